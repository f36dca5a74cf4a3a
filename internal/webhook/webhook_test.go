package webhook

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/sidecar"
)

// review is a literal AdmissionReview as the API server sends it for a
// pod creation; pod is the object's JSON.
func review(pod string, dryRun bool) string {
	dr := "false"
	if dryRun {
		dr = "true"
	}
	return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
"uid":"705ab4f5-6393-11e8-b7cc-42010a800002",
"kind":{"group":"","version":"v1","kind":"Pod"},
"resource":{"group":"","version":"v1","resource":"pods"},
"requestKind":{"group":"","version":"v1","kind":"Pod"},
"requestResource":{"group":"","version":"v1","resource":"pods"},
"namespace":"shop","operation":"CREATE",
"userInfo":{"username":"admin"},
"object":` + pod + `,"oldObject":null,"dryRun":` + dr + `,
"options":{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}}}`
}

const annotatedPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"shop-","namespace":"shop",
"annotations":{"cobrowse-proxy.io/inject":"true"}},
"spec":{"futureField":{"kept":true},"containers":[{"name":"app","image":"shop:1","ports":[{"name":"http","containerPort":3000,"protocol":"TCP"}]}]}}`

const plainPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"shop","namespace":"shop"},
"spec":{"containers":[{"name":"app","image":"shop:1","ports":[{"name":"http","containerPort":3000,"protocol":"TCP"}]}]}}`

// injectedPod is annotatedPod with the proxy, as the API server would
// store it after applying the patch (futureField, unknown to our types,
// is kept).
const injectedPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"shop-","namespace":"shop",
"annotations":{"cobrowse-proxy.io/inject":"true","cobrowse-proxy.io/status":"injected"}},
"spec":{"futureField":{"kept":true},"containers":[
{"name":"app","image":"shop:1","ports":[{"name":"http-app","containerPort":3000,"protocol":"TCP"}]},
{"name":"cobrowse-proxy","image":"ghcr.io/cobrowse-proxy/cobrowse-proxy:latest","args":["run"],
 "ports":[{"name":"http","containerPort":8480,"protocol":"TCP"},{"name":"cobrowse-admin","containerPort":9480,"protocol":"TCP"}],
 "env":[{"name":"COBROWSE_PROXY_UPSTREAM","value":"http://127.0.0.1:3000"}],
 "resources":{"limits":{"memory":"128Mi"},"requests":{"cpu":"10m","memory":"32Mi"}},
 "volumeMounts":[{"name":"cobrowse-proxy","readOnly":true,"mountPath":"/etc/cobrowse-proxy"}],
 "livenessProbe":{"httpGet":{"path":"/healthz","port":9480,"scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3},
 "readinessProbe":{"httpGet":{"path":"/readyz","port":9480,"scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":5,"successThreshold":1,"failureThreshold":3},
 "securityContext":{"capabilities":{"drop":["ALL"]},"runAsUser":65532,"runAsGroup":65532,"runAsNonRoot":true,
  "readOnlyRootFilesystem":true,"allowPrivilegeEscalation":false,"seccompProfile":{"type":"RuntimeDefault"}}}],
"volumes":[{"name":"cobrowse-proxy","projected":{"sources":[
 {"configMap":{"name":"cobrowse-proxy","items":[{"key":"config.yaml","path":"config.yaml"}]}},
 {"secret":{"name":"cobrowse-proxy-sdk","items":[{"key":"sdk-secret","path":"secret/sdk-secret"}]}}],"defaultMode":292}}]}}`

type answer struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Response   struct {
		UID       string          `json:"uid"`
		Allowed   bool            `json:"allowed"`
		Patch     []byte          `json:"patch"`
		PatchType string          `json:"patchType"`
		Warnings  []string        `json:"warnings"`
		Status    json.RawMessage `json:"status"`
	} `json:"response"`
}

func serve(t *testing.T) (*httptest.Server, *Metrics) {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(&Handler{Options: sidecar.Options{ExcludedNamespaces: []string{"cobrowse-proxy-system"}}, Metrics: m})
	t.Cleanup(srv.Close)
	return srv, m
}

func post(t *testing.T, srv *httptest.Server, path, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	res, err := srv.Client().Post(srv.URL+path, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("compact %s: %v", s, err)
	}
	return b.String()
}

// stored applies the answer's patch to the pod, as the API server does.
func stored(t *testing.T, pod string, a answer) string {
	t.Helper()
	if a.Response.Patch == nil {
		return compact(t, pod)
	}
	if a.Response.PatchType != "JSONPatch" {
		t.Fatalf("patchType %q", a.Response.PatchType)
	}
	p, err := jsonpatch.DecodePatch(a.Response.Patch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply([]byte(compact(t, pod)))
	if err != nil {
		t.Fatalf("apply %s: %v", a.Response.Patch, err)
	}
	return string(out)
}

func jsonEqual(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("stored pod:\n%s\nwant:\n%s", gb, wb)
	}
}

func TestMutate(t *testing.T) {
	tests := []struct {
		name, path, pod string
		dryRun          bool
		want            string // the pod after the patch
		decision        string
		warning         string
	}{
		{name: "annotated pod is injected", path: "/mutate", pod: annotatedPod, want: injectedPod, decision: "injected"},
		{name: "dry run is answered the same", path: "/mutate", pod: annotatedPod, dryRun: true, want: injectedPod, decision: "injected"},
		{name: "pod without annotation is unchanged", path: "/mutate", pod: plainPod, want: plainPod, decision: "not_requested"},
		{name: "enabled namespace injects a pod without annotation", path: "/mutate/namespace",
			pod: strings.Replace(annotatedPod, `"annotations":{"cobrowse-proxy.io/inject":"true"}`, `"labels":{"app":"shop"}`, 1),
			want: strings.Replace(injectedPod, `"annotations":{"cobrowse-proxy.io/inject":"true","cobrowse-proxy.io/status":"injected"}`,
				`"labels":{"app":"shop"},"annotations":{"cobrowse-proxy.io/status":"injected"}`, 1),
			decision: "injected"},
		{name: "opt-out wins in an enabled namespace", path: "/mutate/namespace",
			pod:      strings.Replace(annotatedPod, `"cobrowse-proxy.io/inject":"true"`, `"cobrowse-proxy.io/inject":"false"`, 1),
			want:     strings.Replace(annotatedPod, `"cobrowse-proxy.io/inject":"true"`, `"cobrowse-proxy.io/inject":"false"`, 1),
			decision: "opted_out"},
		{name: "no named port: only the status, and a warning", path: "/mutate",
			pod: strings.Replace(annotatedPod, `"name":"http",`, ``, 1),
			want: strings.Replace(strings.Replace(annotatedPod, `"name":"http",`, ``, 1), `"cobrowse-proxy.io/inject":"true"`,
				`"cobrowse-proxy.io/inject":"true","cobrowse-proxy.io/status":"not injected: no container has a TCP port named \"http\" to take over; name the app's port (name: http, containerPort: 3000) and change the Service's targetPort: 3000 to targetPort: http, so traffic goes to the proxy (a numeric targetPort would bypass it)"`, 1),
			decision: "no_port",
			warning:  `cobrowse-proxy: not injected: no container has a TCP port named "http" to take over; name the app's port (name: http, containerPort: 3000) and change the Service's targetPort: 3000 to targetPort: http, so traffic goes to the proxy (a numeric targetPort would bypass it)`},
		{name: "already injected pod (reinvocation) is unchanged", path: "/mutate", pod: injectedPod, want: injectedPod, decision: "already_injected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, m := serve(t)
			res, body := post(t, srv, tt.path, "application/json", review(tt.pod, tt.dryRun))
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			var a answer
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatal(err)
			}
			if a.APIVersion != "admission.k8s.io/v1" || a.Kind != "AdmissionReview" ||
				a.Response.UID != "705ab4f5-6393-11e8-b7cc-42010a800002" || !a.Response.Allowed {
				t.Errorf("response envelope: %s", body)
			}
			jsonEqual(t, stored(t, tt.pod, a), tt.want)
			if got := strings.Join(a.Response.Warnings, "|"); got != tt.warning {
				t.Errorf("warnings %q, want %q", got, tt.warning)
			}
			if v := testutil.ToFloat64(m.Decisions.WithLabelValues(tt.decision)); v != 1 {
				t.Errorf("decisions{%s} = %v, want 1", tt.decision, v)
			}
		})
	}
}

// TestMutatePatchIsMinimal: the patch touches only what Mutate changed
// (no "remove" of fields our types do not know, no rewrite of the app
// container), so it applies to the API server's object as sent.
func TestMutatePatchIsMinimal(t *testing.T) {
	srv, _ := serve(t)
	_, body := post(t, srv, "/mutate", "application/json", review(annotatedPod, false))
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	var ops []struct{ Op, Path string }
	if err := json.Unmarshal(a.Response.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range ops {
		got = append(got, o.Op+" "+o.Path)
	}
	slices.Sort(got) // the ops touch distinct paths: their order does not matter
	want := []string{
		"add /metadata/annotations/cobrowse-proxy.io~1status",
		"add /spec/containers/1",
		"add /spec/volumes",
		"replace /spec/containers/0/ports/0/name",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("patch ops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestMutateRefusesBadRequests: what is not a bounded JSON AdmissionReview
// v1 gets an HTTP error (the API server then applies failurePolicy
// Ignore), counted as invalid.
func TestMutateRefusesBadRequests(t *testing.T) {
	srv, m := serve(t)
	tests := []struct {
		name, method, ctype, body string
		code                      int
	}{
		{"GET", "GET", "", "", 405},
		{"no content type", "POST", "", review(plainPod, false), 415},
		{"text/plain", "POST", "text/plain", review(plainPod, false), 415},
		{"too large", "POST", "application/json", `{"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413},
		{"not JSON", "POST", "application/json", "<xml/>", 400},
		{"no request", "POST", "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, 400},
		{"v1beta1", "POST", "application/json; charset=utf-8",
			strings.Replace(review(plainPod, false), "admission.k8s.io/v1", "admission.k8s.io/v1beta1", 1), 400},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, srv.URL+"/mutate", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if tt.ctype != "" {
			req.Header.Set("Content-Type", tt.ctype)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tt.code {
			t.Errorf("%s: status %d, want %d", tt.name, res.StatusCode, tt.code)
		}
	}
	if v := testutil.ToFloat64(m.Decisions.WithLabelValues("invalid")); v != 6 {
		t.Errorf("decisions{invalid} = %v, want 6 (GET is not counted)", v)
	}
}

// TestMutateOtherObjects: a request that is not a pod creation is allowed
// untouched.
func TestMutateOtherObjects(t *testing.T) {
	srv, _ := serve(t)
	body := strings.Replace(review(annotatedPod, false), `"operation":"CREATE"`, `"operation":"UPDATE"`, 1)
	_, out := post(t, srv, "/mutate", "application/json", body)
	var a answer
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatal(err)
	}
	if !a.Response.Allowed || a.Response.Patch != nil {
		t.Errorf("UPDATE: %s", out)
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	srv, _ := serve(t)
	res, err := srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "ok\n" {
		t.Errorf("healthz %d %q", res.StatusCode, b)
	}
	res, err = srv.Client().Get(srv.URL + "/other")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("/other: %d", res.StatusCode)
	}

	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "cobrowse_proxy_webhook_decisions_total")
	if err != nil || n != 9 {
		t.Errorf("decision series at start: %d, %v; want 9 (each decision at zero)", n, err)
	}
}
