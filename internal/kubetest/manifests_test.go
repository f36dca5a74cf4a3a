package kubetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// kustomize renders the kustomization in dir.
func kustomize(t *testing.T, dir string) []byte {
	t.Helper()
	bin := tool(t, "KUSTOMIZE", "kustomize")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "build", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, stderr.Bytes())
	}
	return out
}

// splitObjects reads a multi-document YAML stream into objects.
func splitObjects(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var objs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("parse YAML: %v", err)
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
}

// kustomizationFile is the file that makes a directory a kustomization.
func kustomizationFile(dir string) string {
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return filepath.Join(dir, n)
		}
	}
	return ""
}

// kustomizations lists every directory under root holding a kustomization.
func kustomizations(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && kustomizationFile(path) != "" {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	sort.Strings(dirs)
	return dirs
}

// isComponent reports whether the kustomization in dir is a Component,
// which renders only when applied to a base.
func isComponent(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile(kustomizationFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Kind string `yaml:"kind"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return k.Kind == "Component"
}

// testBase is a small app, itself restricted-compliant, with its port
// named http, that a Component is applied to.
const testBase = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels: {app: app}
spec:
  replicas: 1
  selector: {matchLabels: {app: app}}
  template:
    metadata:
      labels: {app: app}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: app
        image: registry.example/app:1
        ports:
        - {name: http, containerPort: 8080}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          runAsUser: 1000
---
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  selector: {app: app}
  ports:
  - {name: http, port: 80, targetPort: http}
`

// renderComponent renders the Component in dir applied to testBase.
func renderComponent(t *testing.T, dir string) []byte {
	t.Helper()
	base := t.TempDir()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(base, abs)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(base, "app.yaml"), []byte(testBase))
	writeFile(t, filepath.Join(base, "kustomization.yaml"), []byte(
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [app.yaml]\ncomponents: ["+rel+"]\n"))
	return kustomize(t, base)
}

// foreignCRDs are kinds from other projects (Prometheus Operator,
// cert-manager) that deploy/ uses; the test creates permissive CRDs for
// them, so their objects are checked for shape (apiVersion, kind,
// namespace) but not against the real schemas.
var foreignCRDs = []struct {
	group, version, kind, plural string
}{
	{"monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"},
	{"monitoring.coreos.com", "v1", "PodMonitor", "podmonitors"},
	{"monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules"},
	{"cert-manager.io", "v1", "Certificate", "certificates"},
	{"cert-manager.io", "v1", "Issuer", "issuers"},
}

// applyRendered dry-runs every object of a rendered kustomization with
// server-side apply, each namespace it names created first (real,
// restricted), and fails on any refusal or any Warning header.
func applyRendered(t *testing.T, c *Cluster, rendered []byte) {
	t.Helper()
	objs := splitObjects(t, rendered)
	if len(objs) == 0 {
		t.Fatal("kustomize rendered no objects")
	}
	const defaultNS = "kubetest-apps"
	namespaces := map[string]bool{defaultNS: true}
	for _, o := range objs {
		meta, _ := o["metadata"].(map[string]any)
		if ns, _ := meta["namespace"].(string); ns != "" {
			namespaces[ns] = true
		}
		if o["kind"] == "Namespace" && o["apiVersion"] == "v1" {
			name, _ := meta["name"].(string)
			namespaces[name] = true
		}
	}
	for ns := range namespaces {
		if r := c.Do(t, http.MethodGet, "/api/v1/namespaces/"+ns, "", nil); r.Code == http.StatusNotFound {
			c.CreateNamespace(t, ns, restrictedLabels())
		}
	}
	var applied []string
	for _, o := range objs {
		meta, _ := o["metadata"].(map[string]any)
		what := o["kind"].(string) + "/" + meta["name"].(string)
		applied = append(applied, what)
		r := c.Apply(t, o, defaultNS, true)
		if r.Code != http.StatusOK && r.Code != http.StatusCreated {
			t.Errorf("%s refused by server-side apply (dry run): %d %s", what, r.Code, r.Body)
			continue
		}
		for _, w := range r.Warnings {
			t.Errorf("%s: warning from the API server: %s", what, w)
		}
	}
	t.Logf("dry-run applied %d objects: %s", len(applied), strings.Join(applied, ", "))
}

// TestDeployManifestsAcceptedRestricted renders every kustomization under
// deploy/ (Components applied to a small test app) and server-side
// applies it, as a dry run, in namespaces that enforce and warn at the
// restricted Pod Security level: nothing may be refused and no Warning
// header may come back.
func TestDeployManifestsAcceptedRestricted(t *testing.T) {
	dirs := kustomizations(t, filepath.Join("..", "..", "deploy"))
	if len(dirs) == 0 {
		t.Skip("no kustomization under deploy/ yet")
	}
	c := StartCluster(t)
	for _, crd := range foreignCRDs {
		c.CreateCRD(t, crd.group, crd.version, crd.kind, crd.plural, true)
	}
	for _, dir := range dirs {
		name := strings.TrimPrefix(filepath.ToSlash(dir), "../../")
		t.Run(name, func(t *testing.T) {
			var rendered []byte
			if isComponent(t, dir) {
				rendered = renderComponent(t, dir)
			} else {
				rendered = kustomize(t, dir)
			}
			applyRendered(t, c, rendered)
		})
	}
}

// TestHarnessSeesPodSecurityWarnings guards the test above against a
// harness that would pass anything: in a restricted namespace a
// Deployment whose pods run as root comes back with a Warning header, the
// compliant test app does not, and a non-compliant pod is refused.
func TestHarnessSeesPodSecurityWarnings(t *testing.T) {
	c := StartCluster(t)
	c.CreateNamespace(t, "restricted", restrictedLabels())
	objs := splitObjects(t, []byte(testBase))

	r := c.Apply(t, objs[0], "restricted", true)
	if r.Code != http.StatusCreated && r.Code != http.StatusOK {
		t.Fatalf("compliant Deployment: %d %s", r.Code, r.Body)
	}
	if len(r.Warnings) != 0 {
		t.Fatalf("compliant Deployment warned: %q", r.Warnings)
	}

	root := splitObjects(t, []byte(strings.Replace(testBase, "runAsNonRoot: true", "runAsNonRoot: false", 1)))[0]
	r = c.Apply(t, root, "restricted", true)
	if r.Code != http.StatusCreated && r.Code != http.StatusOK {
		t.Fatalf("root Deployment: %d %s", r.Code, r.Body)
	}
	if len(r.Warnings) == 0 || !strings.Contains(strings.Join(r.Warnings, " "), "restricted") {
		t.Fatalf("root Deployment: no restricted warning: %q", r.Warnings)
	}

	pod := map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "root"},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox"}}}}
	r = c.Apply(t, pod, "restricted", true)
	if r.Code != http.StatusForbidden {
		t.Fatalf("non-compliant pod: status %d, want 403: %s", r.Code, r.Body)
	}
}

// TestFleetOverlay: deploy/fleet runs 3 replicas of the standalone proxy
// and gives them the Redis its config names: $REDIS_URL from the Secret's
// url, and the Secret's password as the file config.yaml's passwordFile
// names, inside the volume mounted at /etc/cobrowse-proxy.
func TestFleetOverlay(t *testing.T) {
	objs := splitObjects(t, kustomize(t, filepath.Join("..", "..", "deploy", "fleet")))
	var dep, cm map[string]any
	for _, o := range objs {
		switch o["kind"] {
		case "Deployment":
			dep = o
		case "ConfigMap":
			cm = o
		}
	}
	if dep == nil || cm == nil {
		t.Fatalf("rendered no Deployment or ConfigMap: %d objects", len(objs))
	}
	cfg, _ := cm["data"].(map[string]any)["config.yaml"].(string)
	for _, want := range []string{"url: ${REDIS_URL}", "passwordFile: /etc/cobrowse-proxy/redis/password"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config.yaml lacks %q", want)
		}
	}
	spec := dep["spec"].(map[string]any)
	if spec["replicas"] != 3 {
		t.Errorf("replicas %v, want 3", spec["replicas"])
	}
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	c := pod["containers"].([]any)[0].(map[string]any)
	urlFromSecret := false
	for _, e := range asList(c["env"]) {
		ref := dig(e, "valueFrom", "secretKeyRef")
		urlFromSecret = urlFromSecret || (dig(e, "name") == "REDIS_URL" && dig(ref, "name") == "cobrowse-proxy-redis" && dig(ref, "key") == "url")
	}
	if !urlFromSecret {
		t.Errorf("REDIS_URL is not the url of Secret cobrowse-proxy-redis: %v", c["env"])
	}
	volume := ""
	for _, m := range asList(c["volumeMounts"]) {
		if dig(m, "mountPath") == "/etc/cobrowse-proxy" {
			volume, _ = dig(m, "name").(string)
		}
	}
	mounted := false
	for _, v := range asList(pod["volumes"]) {
		if dig(v, "name") != volume {
			continue
		}
		for _, src := range asList(dig(v, "projected", "sources")) {
			for _, it := range asList(dig(src, "secret", "items")) {
				mounted = mounted || (dig(src, "secret", "name") == "cobrowse-proxy-redis" && dig(it, "key") == "password" && dig(it, "path") == "redis/password")
			}
		}
	}
	if !mounted {
		t.Errorf("the password of Secret cobrowse-proxy-redis is not at /etc/cobrowse-proxy/redis/password (volume %q): %v", volume, pod["volumes"])
	}
}

// dig follows keys through nested maps; nil where one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func asList(v any) []any { l, _ := v.([]any); return l }
