package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	gojsonpatch "gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/sidecar"
)

// maxManifestBytes bounds what inject reads: manifests, not data.
const maxManifestBytes = 64 << 20

// templatePaths says where each kind keeps its pod template (the pod
// itself for a Pod). Other kinds are passed through unchanged.
var templatePaths = map[string][]string{
	"Pod":                   nil,
	"Deployment":            {"spec", "template"},
	"StatefulSet":           {"spec", "template"},
	"DaemonSet":             {"spec", "template"},
	"ReplicaSet":            {"spec", "template"},
	"ReplicationController": {"spec", "template"},
	"Job":                   {"spec", "template"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template"},
}

// cmdInject adds the proxy to the pod templates of the manifests in a
// file, offline (the GitOps path, like linkerd inject), with the same
// sidecar.Mutate as the webhook: a workload injected here is left alone
// by the webhook. Every pod template is treated as asking for the proxy
// unless annotated cobrowse-proxy.io/inject: "false".
func cmdInject(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inject", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", `manifest file (multi-document YAML), or "-" for standard input (required)`)
	image := fs.String("image", sidecar.DefaultImage, "proxy image the sidecar runs")
	configMap := fs.String("config-map", sidecar.DefaultConfigMap, "ConfigMap with config.yaml (annotation "+sidecar.AnnotationConfig+" overrides)")
	secret := fs.String("secret", sidecar.DefaultSecret, "Secret with sdk-secret (annotation "+sidecar.AnnotationSecret+" overrides)")
	port := fs.String("port", sidecar.DefaultPort, "name of the app port to take over (annotation "+sidecar.AnnotationPort+" overrides)")
	native := fs.Bool("native-sidecar", false, "add the proxy as a native sidecar (init container, restartPolicy Always; Kubernetes 1.29+)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return usageError{`-f is required: a manifest file, or "-" for standard input`}
	}
	in := stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("-f: %w", err)
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, maxManifestBytes+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", *file, err)
	}
	if len(data) > maxManifestBytes {
		return fmt.Errorf("read %s: larger than %d MiB", *file, maxManifestBytes>>20)
	}
	o := sidecar.Options{Image: *image, ConfigMap: *configMap, Secret: *secret, Port: *port, NativeSidecar: *native}
	out, reports, err := injectManifests(data, o)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	for _, r := range reports {
		fmt.Fprintln(stderr, r)
	}
	_, err = stdout.Write(out)
	return err
}

// injectManifests mutates every pod template in the YAML documents of
// data and returns the documents (changed ones re-encoded, the others as
// they were) and one report line per pod template.
func injectManifests(data []byte, o sidecar.Options) ([]byte, []string, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out bytes.Buffer
	var reports []string
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		res, rep, err := injectDocument(doc, o)
		if err != nil {
			return nil, nil, fmt.Errorf("document %d: %w", i, err)
		}
		reports = append(reports, rep...)
		if out.Len() > 0 {
			out.WriteString("---\n")
		}
		out.Write(res)
		if len(res) > 0 && res[len(res)-1] != '\n' {
			out.WriteByte('\n')
		}
	}
	return out.Bytes(), reports, nil
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for line := range strings.SplitSeq(string(doc), "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// injectDocument handles one YAML document (a List's items too).
func injectDocument(doc []byte, o sidecar.Options) ([]byte, []string, error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, nil, err
	}
	var obj map[string]any
	if err := json.Unmarshal(js, &obj); err != nil || obj == nil {
		return doc, nil, nil // not an object: not ours to judge
	}
	changed, reports, err := injectObject(obj, o)
	if err != nil || !changed {
		return doc, reports, err
	}
	js, err = json.Marshal(obj)
	if err != nil {
		return nil, nil, err
	}
	y, err := yaml.JSONToYAML(js)
	return y, reports, err
}

func injectObject(obj map[string]any, o sidecar.Options) (bool, []string, error) {
	kind, _ := obj["kind"].(string)
	if kind == "List" || strings.HasSuffix(kind, "List") {
		items, _ := obj["items"].([]any)
		changed := false
		var reports []string
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			c, r, err := injectObject(m, o)
			if err != nil {
				return false, nil, err
			}
			changed = changed || c
			reports = append(reports, r...)
		}
		return changed, reports, nil
	}
	path, ok := templatePaths[kind]
	if !ok {
		return false, nil, nil
	}
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	tmpl := obj
	for _, k := range path {
		next, ok := tmpl[k].(map[string]any)
		if !ok {
			return false, nil, fmt.Errorf("%s %s has no %s", kind, name, strings.Join(path, "."))
		}
		tmpl = next
	}
	res, err := injectTemplate(tmpl, ns, o)
	if err != nil {
		return false, nil, fmt.Errorf("%s %s: %w", kind, name, err)
	}
	return res.Changed, []string{fmt.Sprintf("%s/%s: %s", strings.ToLower(kind), name, res.Status)}, nil
}

// injectTemplate mutates a pod (or pod template) held as generic JSON in
// place. The change is computed on the typed pod and applied as a JSON
// patch to the generic one, so that fields the user wrote and our types
// do not know (or would re-encode differently) are kept as written.
func injectTemplate(tmpl map[string]any, namespace string, o sidecar.Options) (sidecar.Result, error) {
	base := map[string]any{"metadata": map[string]any{}, "spec": map[string]any{}}
	for k := range base {
		if v, ok := tmpl[k].(map[string]any); ok {
			base[k] = v
		}
	}
	raw, err := json.Marshal(base)
	if err != nil {
		return sidecar.Result{}, err
	}
	var pod corev1.Pod
	if err := json.Unmarshal(raw, &pod); err != nil {
		return sidecar.Result{}, fmt.Errorf("pod template: %w", err)
	}
	before, err := json.Marshal(&pod)
	if err != nil {
		return sidecar.Result{}, err
	}
	// inject is an explicit request: like a namespace that asked, so
	// only the annotation "false" keeps the proxy out.
	res := sidecar.Mutate(&pod, sidecar.Request{Namespace: namespace,
		NamespaceLabels: map[string]string{sidecar.LabelNamespaceInject: sidecar.NamespaceEnabled}}, o)
	if !res.Changed {
		return res, nil
	}
	after, err := json.Marshal(&pod)
	if err != nil {
		return res, err
	}
	ops, err := gojsonpatch.CreatePatch(before, after)
	if err != nil {
		return res, err
	}
	if len(ops) == 0 {
		res.Changed = false
		return res, nil
	}
	pb, err := json.Marshal(ops)
	if err != nil {
		return res, err
	}
	patch, err := jsonpatch.DecodePatch(pb)
	if err != nil {
		return res, err
	}
	patched, err := patch.Apply(raw)
	if err != nil {
		return res, fmt.Errorf("apply the change to the manifest: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(patched, &m); err != nil {
		return res, err
	}
	tmpl["metadata"], tmpl["spec"] = m["metadata"], m["spec"]
	return res, nil
}
