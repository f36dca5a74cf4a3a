package kubetest

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/sidecar"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/testcert"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/webhook"
)

// webhookNamespace is where the webhook runs in deploy/webhook; it is
// excluded from injection.
const webhookNamespace = "cobrowse-proxy-system"

// startWebhook serves webhook.Handler on a loopback TLS listener whose
// certificate (its own CA, for 127.0.0.1) the API server is told to trust
// through caBundle.
func startWebhook(t *testing.T) (*httptest.Server, *webhook.Metrics, []byte) {
	t.Helper()
	pair := testcert.New(t, time.Now().Add(24*time.Hour), 0, "127.0.0.1")
	m, err := webhook.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &webhook.Handler{
		Options: sidecar.Options{ExcludedNamespaces: []string{webhookNamespace}},
		Metrics: m,
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair.TLS(t)}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, m, pair.CertPEM
}

// webhookConfig is the MutatingWebhookConfiguration of deploy/webhook,
// each webhook's clientConfig.service replaced by url (the in-process
// server, same path) and caBundle; without deploy/webhook, a minimal one
// with the shared settings (Ignore, None, IfNeeded, v1, both paths).
func webhookConfig(t *testing.T, baseURL string, caPEM []byte) map[string]any {
	t.Helper()
	ca := base64.StdEncoding.EncodeToString(caPEM)
	dir := filepath.Join("..", "..", "deploy", "webhook")
	if kustomizationFile(dir) != "" {
		for _, o := range splitObjects(t, kustomize(t, dir)) {
			if o["kind"] != "MutatingWebhookConfiguration" {
				continue
			}
			hooks, _ := o["webhooks"].([]any)
			for _, h := range hooks {
				hook := h.(map[string]any)
				cc, _ := hook["clientConfig"].(map[string]any)
				path := webhook.PathMutate
				if svc, ok := cc["service"].(map[string]any); ok {
					if p, ok := svc["path"].(string); ok {
						path = p
					}
				}
				hook["clientConfig"] = map[string]any{"url": baseURL + path, "caBundle": ca}
			}
			// cert-manager's CA injection has no cert-manager here.
			if meta, ok := o["metadata"].(map[string]any); ok {
				delete(meta, "annotations")
			}
			return o
		}
		t.Fatalf("%s renders no MutatingWebhookConfiguration", dir)
	}
	t.Logf("no deploy/webhook: registering a minimal MutatingWebhookConfiguration")
	hook := func(name, path string, enabled bool) map[string]any {
		op := "NotIn"
		if enabled {
			op = "In"
		}
		return map[string]any{
			"name":                    name,
			"clientConfig":            map[string]any{"url": baseURL + path, "caBundle": ca},
			"rules":                   []any{map[string]any{"apiGroups": []any{""}, "apiVersions": []any{"v1"}, "operations": []any{"CREATE"}, "resources": []any{"pods"}}},
			"failurePolicy":           "Ignore",
			"sideEffects":             "None",
			"reinvocationPolicy":      "IfNeeded",
			"admissionReviewVersions": []any{"v1"},
			"timeoutSeconds":          5,
			"namespaceSelector": map[string]any{"matchExpressions": []any{
				map[string]any{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": []any{"kube-system", webhookNamespace}},
				map[string]any{"key": sidecar.LabelNamespaceInject, "operator": op, "values": []any{sidecar.NamespaceEnabled}},
			}},
		}
	}
	return map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
		"metadata": map[string]any{"name": "cobrowse-proxy"},
		"webhooks": []any{
			hook("pods.cobrowse-proxy.io", webhook.PathMutate, false),
			hook("namespaces.cobrowse-proxy.io", webhook.PathMutateNamespace, true),
		},
	}
}

// appPod is a restricted-compliant app pod whose port is named http.
func appPod(name string, annotations map[string]string) map[string]any {
	yes, no := true, false
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "annotations": annotations},
		"spec": map[string]any{
			"securityContext": map[string]any{"runAsNonRoot": yes, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
			"containers": []any{map[string]any{
				"name": "app", "image": "registry.example/app:1",
				"ports":          []any{map[string]any{"name": "http", "containerPort": 8080}},
				"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/", "port": "http"}},
				"securityContext": map[string]any{
					"runAsUser": 1000, "allowPrivilegeEscalation": no,
					"capabilities": map[string]any{"drop": []any{"ALL"}},
				},
			}},
		},
	}
}

// createPod POSTs a pod (dryRun: ?dryRun=All) and decodes the answer.
func createPod(t *testing.T, c *Cluster, ns string, pod map[string]any, dryRun bool) (Response, *corev1.Pod) {
	t.Helper()
	path := "/api/v1/namespaces/" + ns + "/pods"
	if dryRun {
		path += "?dryRun=All"
	}
	b, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Do(t, http.MethodPost, path, "application/json", b)
	if r.Code != http.StatusCreated {
		return r, nil
	}
	var p corev1.Pod
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	return r, &p
}

// getPod reads a stored pod, nil when there is none.
func getPod(t *testing.T, c *Cluster, ns, name string) *corev1.Pod {
	t.Helper()
	r := c.Do(t, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods/"+name, "", nil)
	if r.Code == http.StatusNotFound {
		return nil
	}
	if r.Code != http.StatusOK {
		t.Fatalf("get pod %s/%s: %d %s", ns, name, r.Code, r.Body)
	}
	var p corev1.Pod
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func proxyContainer(p *corev1.Pod) *corev1.Container {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == sidecar.ContainerName {
			return &p.Spec.Containers[i]
		}
	}
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == sidecar.ContainerName {
			return &p.Spec.InitContainers[i]
		}
	}
	return nil
}

// registerWebhook creates (or replaces) the configuration and waits until
// the API server calls it: the configuration reaches the admission chain
// asynchronously, so a dry-run probe pod is created until ready says so.
func registerWebhook(t *testing.T, c *Cluster, cfg map[string]any, ns string, ready func(Response, *corev1.Pod) bool) {
	t.Helper()
	r := c.Apply(t, cfg, "", false)
	if r.Code != http.StatusOK && r.Code != http.StatusCreated {
		t.Fatalf("register MutatingWebhookConfiguration: %d %s", r.Code, r.Body)
	}
	waitFor(t, "webhook configuration in force", func() error {
		r, p := createPod(t, c, ns, appPod("probe", map[string]string{sidecar.AnnotationInject: "true"}), true)
		if !ready(r, p) {
			return errString("probe pod: " + string(r.Body))
		}
		return nil
	})
}

type errString string

func (e errString) Error() string { return string(e) }

// TestWebhookOnAPIServer registers the webhook, served in-process on
// loopback TLS, with a real API server and checks what the server stores:
// an annotated pod gets the proxy, the port swap and a restricted
// securityContext (in a namespace that enforces restricted); a pod without
// the annotation is stored as sent; a dry-run create is mutated and leaves
// nothing behind; with the webhook down, failurePolicy Ignore still admits
// pods (and the same pod is refused under Fail, so the webhook really was
// down).
func TestWebhookOnAPIServer(t *testing.T) {
	c := StartCluster(t)
	const ns = "apps"
	c.CreateNamespace(t, ns, restrictedLabels())
	srv, metrics, caPEM := startWebhook(t)
	cfg := webhookConfig(t, srv.URL, caPEM)
	registerWebhook(t, c, cfg, ns, func(_ Response, p *corev1.Pod) bool { return p != nil && proxyContainer(p) != nil })

	t.Run("annotated pod stored with the proxy", func(t *testing.T) {
		r, _ := createPod(t, c, ns, appPod("injected", map[string]string{sidecar.AnnotationInject: "true"}), false)
		if r.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Code, r.Body)
		}
		if len(r.Warnings) != 0 {
			t.Errorf("warnings: %q", r.Warnings)
		}
		p := getPod(t, c, ns, "injected")
		if p == nil {
			t.Fatal("pod not stored")
		}
		if got := p.Annotations[sidecar.AnnotationStatus]; got != sidecar.StatusInjected {
			t.Errorf("status annotation %q, want %q", got, sidecar.StatusInjected)
		}
		pc := proxyContainer(p)
		if pc == nil {
			t.Fatalf("no %s container: %+v", sidecar.ContainerName, p.Spec)
		}
		app := p.Spec.Containers[0]
		if app.Name != "app" || len(app.Ports) != 1 || app.Ports[0].Name != "http-app" || app.Ports[0].ContainerPort != 8080 {
			t.Errorf("app ports %+v, want http-app 8080", app.Ports)
		}
		if app.ReadinessProbe.HTTPGet.Port.StrVal != "http-app" {
			t.Errorf("app probe port %v, want http-app", app.ReadinessProbe.HTTPGet.Port)
		}
		var httpPort *corev1.ContainerPort
		for i := range pc.Ports {
			if pc.Ports[i].Name == "http" {
				httpPort = &pc.Ports[i]
			}
		}
		if httpPort == nil || httpPort.ContainerPort != sidecar.ProxyPort {
			t.Errorf("proxy ports %+v, want http %d", pc.Ports, sidecar.ProxyPort)
		}
		wantEnv := corev1.EnvVar{Name: sidecar.EnvUpstream, Value: "http://127.0.0.1:8080"}
		if !containsEnv(pc.Env, wantEnv) {
			t.Errorf("proxy env %+v, want %+v", pc.Env, wantEnv)
		}
		checkRestricted(t, pc.SecurityContext)
		if pc.ReadinessProbe == nil || pc.ReadinessProbe.HTTPGet == nil || pc.ReadinessProbe.HTTPGet.Port.IntValue() != sidecar.AdminPort {
			t.Errorf("proxy readiness probe %+v, want the admin port %d", pc.ReadinessProbe, sidecar.AdminPort)
		}
		var vol bool
		for _, v := range p.Spec.Volumes {
			vol = vol || v.Name == sidecar.VolumeName
		}
		if !vol {
			t.Errorf("no %s volume: %+v", sidecar.VolumeName, p.Spec.Volumes)
		}
	})

	t.Run("pod without the annotation stored unchanged", func(t *testing.T) {
		sent := appPod("plain", nil)
		r, _ := createPod(t, c, ns, sent, false)
		if r.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Code, r.Body)
		}
		p := getPod(t, c, ns, "plain")
		if len(p.Annotations) != 0 {
			t.Errorf("annotations %v, want none", p.Annotations)
		}
		if len(p.Spec.Containers) != 1 || len(p.Spec.InitContainers) != 0 {
			t.Fatalf("containers %+v / init %+v, want the app alone", p.Spec.Containers, p.Spec.InitContainers)
		}
		if ports := p.Spec.Containers[0].Ports; len(ports) != 1 || ports[0].Name != "http" {
			t.Errorf("app ports %+v, want http unchanged", ports)
		}
		for _, v := range p.Spec.Volumes {
			if v.Name == sidecar.VolumeName {
				t.Errorf("volume %s added", v.Name)
			}
		}
	})

	t.Run("dry run mutated without side effects", func(t *testing.T) {
		before := testutil.ToFloat64(metrics.Decisions.WithLabelValues(string(sidecar.DecisionInjected)))
		r, p := createPod(t, c, ns, appPod("dry", map[string]string{sidecar.AnnotationInject: "true"}), true)
		if p == nil {
			t.Fatalf("dry-run create: %d %s", r.Code, r.Body)
		}
		if proxyContainer(p) == nil {
			t.Errorf("dry-run answer has no proxy: %+v", p.Spec.Containers)
		}
		if after := testutil.ToFloat64(metrics.Decisions.WithLabelValues(string(sidecar.DecisionInjected))); after != before+1 {
			t.Errorf("webhook injected count %v -> %v: the dry run did not reach the webhook", before, after)
		}
		if got := getPod(t, c, ns, "dry"); got != nil {
			t.Errorf("dry run stored a pod: %+v", got.ObjectMeta)
		}
	})

	t.Run("namespace label injects, the opt-out annotation wins", func(t *testing.T) {
		labels := restrictedLabels()
		labels[sidecar.LabelNamespaceInject] = sidecar.NamespaceEnabled
		c.CreateNamespace(t, "enabled", labels)
		r, p := createPod(t, c, "enabled", appPod("by-label", nil), true)
		if p == nil || proxyContainer(p) == nil {
			t.Errorf("pod in a namespace labelled %s=%s: %d, not injected", sidecar.LabelNamespaceInject, sidecar.NamespaceEnabled, r.Code)
		}
		r, p = createPod(t, c, "enabled", appPod("opted-out", map[string]string{sidecar.AnnotationInject: "false"}), true)
		if p == nil || proxyContainer(p) != nil {
			t.Errorf("opted-out pod in an enabled namespace: %d, injected or refused: %s", r.Code, r.Body)
		}
	})

	t.Run("webhook's own namespace and kube-system never injected", func(t *testing.T) {
		c.CreateNamespace(t, webhookNamespace, restrictedLabels())
		c.MustDo(t, http.StatusCreated, http.MethodPost, "/api/v1/namespaces/kube-system/serviceaccounts", "",
			map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "default"}})
		excluded := metrics.Decisions.WithLabelValues(string(sidecar.DecisionExcludedNamespace))
		before := testutil.ToFloat64(excluded)
		for _, ns := range []string{webhookNamespace, "kube-system"} {
			r, p := createPod(t, c, ns, appPod("annotated", map[string]string{sidecar.AnnotationInject: "true"}), true)
			if p == nil {
				t.Fatalf("pod in %s: %d %s", ns, r.Code, r.Body)
			}
			if proxyContainer(p) != nil || p.Annotations[sidecar.AnnotationStatus] != "" {
				t.Errorf("pod in %s was touched: status %q", ns, p.Annotations[sidecar.AnnotationStatus])
			}
		}
		// The configuration's namespaceSelector keeps these requests
		// from the webhook at all; its own exclusion is the second line.
		if after := testutil.ToFloat64(excluded); after != before {
			t.Errorf("the webhook was called for excluded namespaces (%v -> %v): the namespaceSelector lets them through", before, after)
		}
	})

	t.Run("webhook down, failurePolicy Ignore admits pods", func(t *testing.T) {
		srv.Close()
		r, _ := createPod(t, c, ns, appPod("while-down", map[string]string{sidecar.AnnotationInject: "true"}), false)
		if r.Code != http.StatusCreated {
			t.Fatalf("create while the webhook is down: %d %s", r.Code, r.Body)
		}
		p := getPod(t, c, ns, "while-down")
		if p == nil || proxyContainer(p) != nil {
			t.Fatalf("stored pod %+v, want the app alone", p)
		}

		// Control: under Fail the same request is refused, which shows
		// the webhook was called and unreachable, not skipped.
		for _, h := range cfg["webhooks"].([]any) {
			h.(map[string]any)["failurePolicy"] = "Fail"
		}
		registerWebhook(t, c, cfg, ns, func(r Response, _ *corev1.Pod) bool { return r.Code >= 500 })
		r, _ = createPod(t, c, ns, appPod("refused", map[string]string{sidecar.AnnotationInject: "true"}), false)
		if r.Code < 500 || !strings.Contains(string(r.Body), "failed calling webhook") {
			t.Errorf("under Fail with the webhook down: %d %s, want a refusal", r.Code, r.Body)
		}
	})
}

func containsEnv(env []corev1.EnvVar, want corev1.EnvVar) bool {
	for _, e := range env {
		if reflect.DeepEqual(e, want) {
			return true
		}
	}
	return false
}

// checkRestricted checks the proxy container's securityContext field by
// field against the shared restricted settings.
func checkRestricted(t *testing.T, sc *corev1.SecurityContext) {
	t.Helper()
	if sc == nil {
		t.Fatal("proxy has no securityContext")
	}
	b := func(p *bool) bool { return p != nil && *p }
	i := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	if !b(sc.RunAsNonRoot) || i(sc.RunAsUser) != sidecar.UID || i(sc.RunAsGroup) != sidecar.UID ||
		!b(sc.ReadOnlyRootFilesystem) || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		out, _ := json.Marshal(sc)
		t.Errorf("proxy securityContext %s is not the restricted one", out)
	}
}
