// Package webhook serves the mutating admission webhook that adds the
// proxy to pods as they are created, with sidecar.Mutate: the same
// mutation the inject command applies to manifests on disk.
//
// It answers AdmissionReview v1 on two paths, because an AdmissionReview
// does not carry the namespace's labels and the webhook reads nothing from
// the API server (it needs no RBAC at all):
//
//	POST /mutate            the pod asks with annotation cobrowse-proxy.io/inject: "true"
//	POST /mutate/namespace  the namespace asked (label cobrowse-proxy.io/inject=enabled):
//	                        every pod unless it opts out with the annotation "false"
//
// The MutatingWebhookConfiguration sends each pod to one of them by
// namespaceSelector. Every answer allows the pod: the webhook only ever
// adds the proxy, it never refuses a pod. It has no side effects, so a
// dry-run request is answered exactly like any other.
package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/sidecar"
)

// MaxBodyBytes bounds an AdmissionReview. The API server's own request
// limit is 3 MiB, but a pod (the object plus, for updates, the old one)
// is far below this; a larger body is refused with 413 without being read.
const MaxBodyBytes = 2 << 20

// Paths served by Handler.
const (
	PathMutate          = "/mutate"
	PathMutateNamespace = "/mutate/namespace"
	PathHealthz         = "/healthz"
)

// DecisionInvalid counts requests that were not a readable AdmissionReview
// of a pod (answered with an HTTP error, or allowed unchanged).
const DecisionInvalid = "invalid"

// Metrics are the webhook's collectors.
type Metrics struct {
	// Decisions is cobrowse_proxy_webhook_decisions_total{decision}: one
	// per admission request, by sidecar.Decision or "invalid". Injected
	// and not_requested are the usual ones; no_port and port_conflict
	// mean a team asked for the proxy and did not get it.
	Decisions *prometheus.CounterVec
	// Duration is cobrowse_proxy_webhook_request_duration_seconds.
	Duration prometheus.Histogram
}

// NewMetrics creates the collectors, every decision at zero, and registers
// them with reg if it is not nil.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cobrowse_proxy_webhook_decisions_total",
			Help: "Admission requests by decision (injected, not_requested, opted_out, already_injected, excluded_namespace, host_network, no_port, port_conflict, invalid).",
		}, []string{"decision"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cobrowse_proxy_webhook_request_duration_seconds",
			Help:    "Time to answer an admission request.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
	}
	for _, d := range sidecar.Decisions() {
		m.Decisions.WithLabelValues(string(d))
	}
	m.Decisions.WithLabelValues(DecisionInvalid)
	if reg != nil {
		for _, c := range []prometheus.Collector{m.Decisions, m.Duration} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register webhook metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Handler answers admission requests. Build it with a struct literal;
// Metrics and Log may be nil.
type Handler struct {
	// Options are the injector's defaults (image, ConfigMap, ...), and
	// ExcludedNamespaces should hold the webhook's own namespace.
	Options sidecar.Options
	Metrics *Metrics
	Log     *slog.Logger
}

// ServeHTTP routes the two mutate paths and /healthz.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case PathHealthz:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	case PathMutate:
		h.mutate(w, r, false)
	case PathMutateNamespace:
		h.mutate(w, r, true)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

func (h *Handler) count(d string, start time.Time) {
	if h.Metrics == nil {
		return
	}
	h.Metrics.Decisions.WithLabelValues(d).Inc()
	h.Metrics.Duration.Observe(time.Since(start).Seconds())
}

func (h *Handler) mutate(w http.ResponseWriter, r *http.Request, namespaceEnabled bool) {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST with an AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.count(DecisionInvalid, start)
		http.Error(w, "Content-Type must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		h.count(DecisionInvalid, start)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("AdmissionReview larger than %d bytes", MaxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		h.count(DecisionInvalid, start)
		http.Error(w, "body is not an AdmissionReview with a request", http.StatusBadRequest)
		return
	}
	if review.APIVersion != admissionv1.SchemeGroupVersion.String() || review.Kind != "AdmissionReview" {
		h.count(DecisionInvalid, start)
		http.Error(w, fmt.Sprintf("AdmissionReview apiVersion %q kind %q: only admission.k8s.io/v1 is served (admissionReviewVersions: [v1])",
			review.APIVersion, review.Kind), http.StatusBadRequest)
		return
	}
	req := review.Request
	resp, decision := h.review(req, namespaceEnabled)
	h.count(decision, start)
	h.log().Info("admission", "decision", decision, "namespace", req.Namespace,
		"name", podName(req), "uid", req.UID, "dryRun", req.DryRun != nil && *req.DryRun)
	out, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp})
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// review decides on one request. The pod is always allowed; a patch comes
// with it when Mutate changed the pod.
func (h *Handler) review(req *admissionv1.AdmissionRequest, namespaceEnabled bool) (*admissionv1.AdmissionResponse, string) {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	podKind := metav1.GroupVersionKind{Group: "", Version: "v1", Kind: "Pod"}
	if req.Kind != podKind || req.Operation != admissionv1.Create || req.SubResource != "" {
		// The webhook configuration sends only pod creations; anything
		// else is let through untouched.
		return resp, DecisionInvalid
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		resp.Warnings = []string{"cobrowse-proxy: pod not decoded, not injected"}
		return resp, DecisionInvalid
	}
	// The patch is the difference between the pod as our types see it
	// before and after Mutate, never the raw object: fields newer than
	// our k8s.io/api are then left alone instead of being removed.
	before, err := json.Marshal(&pod)
	if err != nil {
		return resp, DecisionInvalid
	}
	sreq := sidecar.Request{Namespace: req.Namespace}
	if namespaceEnabled {
		sreq.NamespaceLabels = map[string]string{sidecar.LabelNamespaceInject: sidecar.NamespaceEnabled}
	}
	res := sidecar.Mutate(&pod, sreq, h.Options)
	if !res.Changed {
		return resp, string(res.Decision)
	}
	after, err := json.Marshal(&pod)
	if err != nil {
		return resp, DecisionInvalid
	}
	if bytes.Equal(before, after) {
		return resp, string(res.Decision)
	}
	ops, err := jsonpatch.CreatePatch(before, after)
	if err != nil {
		h.log().Error("create patch", "error", err)
		return resp, DecisionInvalid
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return resp, DecisionInvalid
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	if res.Decision != sidecar.DecisionInjected {
		// Shown by kubectl to whoever created the pod.
		resp.Warnings = []string{"cobrowse-proxy: " + res.Status}
	}
	return resp, string(res.Decision)
}

func podName(req *admissionv1.AdmissionRequest) string {
	if req.Name != "" {
		return req.Name
	}
	var m struct {
		Metadata struct {
			GenerateName string `json:"generateName"`
		} `json:"metadata"`
	}
	if json.Unmarshal(req.Object.Raw, &m) == nil && m.Metadata.GenerateName != "" {
		return m.Metadata.GenerateName + "*"
	}
	return ""
}
