package kubetest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/sidecar"
)

// buildProxy builds the cobrowse-proxy command into a temporary
// directory, so that the test runs `inject` exactly as a user does.
func buildProxy(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "cobrowse-proxy")
	gocmd := os.Getenv("GO")
	if gocmd == "" {
		gocmd = "go"
	}
	cmd := exec.CommandContext(ctx, gocmd, "build", "-o", bin, "github.com/cobrowse-proxy/cobrowse-proxy/cmd/cobrowse-proxy")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cobrowse-proxy: %v\n%s", err, out)
	}
	return bin
}

// runInject runs `cobrowse-proxy inject -f` on manifest and returns its
// output.
func runInject(t *testing.T, bin string, manifest []byte, args ...string) []byte {
	t.Helper()
	in := filepath.Join(t.TempDir(), "manifest.yaml")
	writeFile(t, in, manifest)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append([]string{"inject", "-f", in}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cobrowse-proxy inject: %v\n%s", err, stderr.Bytes())
	}
	t.Logf("inject: %s", strings.TrimSpace(stderr.String()))
	return stdout.Bytes()
}

// podFrom returns the pod of a manifest: a Pod itself, or a pod built from
// a workload's template (what its controller would create).
func podFrom(t *testing.T, obj map[string]any) map[string]any {
	t.Helper()
	if obj["kind"] == "Pod" {
		return obj
	}
	spec, _ := obj["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	if tmpl == nil {
		t.Fatalf("%v has no spec.template", obj["kind"])
	}
	meta, _ := tmpl["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["name"] = "from-template"
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": tmpl["spec"]}
}

// normalised is a stored pod reduced to what the mutation decides: the
// annotations and the spec, without the service-account token volume
// whose name the API server picks at random per pod.
func normalised(t *testing.T, p *corev1.Pod) string {
	t.Helper()
	spec := p.Spec.DeepCopy()
	isToken := func(name string) bool { return strings.HasPrefix(name, "kube-api-access-") }
	var vols []corev1.Volume
	for _, v := range spec.Volumes {
		if !isToken(v.Name) {
			vols = append(vols, v)
		}
	}
	spec.Volumes = vols
	for _, cs := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
		for i := range cs {
			var mounts []corev1.VolumeMount
			for _, m := range cs[i].VolumeMounts {
				if !isToken(m.Name) {
					mounts = append(mounts, m)
				}
			}
			cs[i].VolumeMounts = mounts
		}
	}
	b, err := json.MarshalIndent(map[string]any{"annotations": p.Annotations, "spec": spec}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestInjectMatchesWebhook checks that `cobrowse-proxy inject` writes the
// pod the webhook makes: for each manifest, the pod the API server makes
// of the original with the webhook registered, and the pod it makes of
// inject's output (which the webhook leaves alone, as already injected),
// are the same once the server has filled in both pods' defaults.
func TestInjectMatchesWebhook(t *testing.T) {
	c := StartCluster(t)
	const ns = "apps"
	c.CreateNamespace(t, ns, restrictedLabels())
	srv, _, caPEM := startWebhook(t)
	registerWebhook(t, c, webhookConfig(t, srv.URL, caPEM), ns,
		func(_ Response, p *corev1.Pod) bool { return p != nil && proxyContainer(p) != nil })
	bin := buildProxy(t)

	inject := map[string]string{sidecar.AnnotationInject: "true"}
	deployment := func(annotations map[string]string) map[string]any {
		pod := appPod("", annotations)
		delete(pod["metadata"].(map[string]any), "name")
		pod["metadata"].(map[string]any)["labels"] = map[string]any{"app": "app"}
		return map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "app"},
			"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": "app"}},
				"template": map[string]any{"metadata": pod["metadata"], "spec": pod["spec"]},
			},
		}
	}
	tests := []struct {
		name     string
		manifest map[string]any
	}{
		{"pod", appPod("same", inject)},
		{"native sidecar pod", appPod("same", map[string]string{
			sidecar.AnnotationInject: "true", sidecar.AnnotationNativeSidecar: "true"})},
		{"deployment", deployment(inject)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			original, err := json.Marshal(tc.manifest)
			if err != nil {
				t.Fatal(err)
			}
			out := runInject(t, bin, original)
			objs := splitObjects(t, out)
			if len(objs) != 1 {
				t.Fatalf("inject wrote %d objects, want 1:\n%s", len(objs), out)
			}

			r, byWebhook := createPod(t, c, ns, podFrom(t, tc.manifest), true)
			if byWebhook == nil {
				t.Fatalf("dry-run create of the original: %d %s", r.Code, r.Body)
			}
			if proxyContainer(byWebhook) == nil {
				t.Fatal("the webhook did not inject the original")
			}
			r, byInject := createPod(t, c, ns, podFrom(t, objs[0]), true)
			if byInject == nil {
				t.Fatalf("dry-run create of inject's output: %d %s\n%s", r.Code, r.Body, out)
			}
			if len(r.Warnings) != 0 {
				t.Errorf("inject's pod drew warnings: %q", r.Warnings)
			}
			if got, want := normalised(t, byInject), normalised(t, byWebhook); got != want {
				t.Errorf("inject's pod differs from the webhook's\ninject:\n%s\nwebhook:\n%s", got, want)
			}
		})
	}
}
