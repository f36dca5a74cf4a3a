package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/sidecar"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/testcert"
)

// TestWebhookServes: the webhook command answers an AdmissionReview over
// TLS from the certificate files, serves /metrics with the decision
// counter, picks up a rotated certificate without a restart, and stops
// when its context ends.
func TestWebhookServes(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := testcert.New(t, time.Now().Add(24*time.Hour), 1, "127.0.0.1")
	first.Write(t, certFile, keyFile)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveWebhook(ctx, webhookOptions{
			certFile: certFile, keyFile: keyFile, certReload: 10 * time.Millisecond,
			sidecar: sidecar.Options{ExcludedNamespaces: []string{"cobrowse-proxy-system"}},
			log:     slog.New(slog.DiscardHandler),
		}, ln, mln)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serveWebhook: %v", err)
		}
	}()

	// Trust any certificate but record the one served.
	var served chan int64 = make(chan int64, 100)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			served <- cs.PeerCertificates[0].SerialNumber.Int64()
			return nil
		},
	}, DisableKeepAlives: true}}
	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",
"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
"namespace":"shop","operation":"CREATE","userInfo":{},
"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","annotations":{"cobrowse-proxy.io/inject":"true"}},
"spec":{"containers":[{"name":"app","image":"a","ports":[{"name":"http","containerPort":3000}]}]}}}}`
	res, err := client.Post("https://"+ln.Addr().String()+"/mutate", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var a struct {
		Response struct {
			UID     string `json:"uid"`
			Allowed bool   `json:"allowed"`
			Patch   []byte `json:"patch"`
		} `json:"response"`
	}
	if err := json.Unmarshal(out, &a); err != nil || a.Response.UID != "u1" || !a.Response.Allowed ||
		!bytes.Contains(a.Response.Patch, []byte(`"name":"cobrowse-proxy"`)) {
		t.Fatalf("response %d: %s (%v)", res.StatusCode, out, err)
	}
	if s := <-served; s != 1 {
		t.Errorf("served serial %d, want 1", s)
	}

	res, err = http.Get("http://" + mln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`cobrowse_proxy_webhook_decisions_total{decision="injected"} 1`,
		`cobrowse_proxy_webhook_decisions_total{decision="not_requested"} 0`,
		`cobrowse_proxy_tls_certificate_expiry_timestamp_seconds{name="127.0.0.1"}`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// cert-manager rotates the Secret: the next handshakes get the new
	// certificate, with no restart.
	second := testcert.New(t, time.Now().Add(48*time.Hour), 2, "127.0.0.1")
	second.Write(t, certFile, keyFile)
	later := time.Now().Add(2 * time.Second) // bump mtimes: same-size files in the same instant
	os.Chtimes(certFile, later, later)
	os.Chtimes(keyFile, later, later)
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := client.Get("https://" + ln.Addr().String() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if <-served == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("rotated certificate not served within 10s")
		}
	}
}

func TestWebhookFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"webhook"}, "-cert and -key are required"},
		{[]string{"webhook", "-cert", "c", "-key", "k", "-cert-reload-interval", "0s"}, "-cert-reload-interval 0s: must be positive"},
	} {
		var stdout, stderr bytes.Buffer
		if code := runMain(tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	var stdout, stderr bytes.Buffer
	dir := t.TempDir()
	code := runMain([]string{"webhook", "-cert", filepath.Join(dir, "none.crt"), "-key", filepath.Join(dir, "none.key"),
		"-listen", "127.0.0.1:0", "-metrics", ""}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "none.crt") {
		t.Errorf("missing cert files: exit %d, stderr %q", code, stderr.String())
	}
}
