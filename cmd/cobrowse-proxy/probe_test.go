package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// probe exits 0 only on a 200 from the URL; anything else, including a
// redirect to a healthy page and a server that does not answer in time,
// is 1 with the reason on stderr; a bad URL is a usage error.
func TestProbe(t *testing.T) {
	hang := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/draining", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/readyz", http.StatusFound)
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write(bytes.Repeat([]byte("x"), 1<<20))
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(hang)

	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-url", srv.URL + "/readyz"}, 0, ""},
		{[]string{"-url", srv.URL + "/draining"}, 1, "status 503"},
		{[]string{"-url", srv.URL + "/moved"}, 1, "status 302"},
		{[]string{"-url", srv.URL + "/huge"}, 1, "status 500"},
		{[]string{"-url", srv.URL + "/hang", "-timeout", "50ms"}, 1, "deadline exceeded"},
		{[]string{"-url", "127.0.0.1:9480/readyz"}, 2, "absolute http(s) URL"},
		{[]string{"-url", "ftp://127.0.0.1/readyz"}, 2, "absolute http(s) URL"},
		{[]string{"-timeout", "0s"}, 2, "must be > 0"},
		{[]string{"extra"}, 2, "unexpected argument"},
	} {
		var stdout, stderr bytes.Buffer
		code := runMain(append([]string{"probe"}, tc.args...), &stdout, &stderr)
		if code != tc.code {
			t.Errorf("probe %v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr.String())
		}
		if tc.stderr == "" && stderr.Len() != 0 || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("probe %v: stderr %q, want %q", tc.args, stderr.String(), tc.stderr)
		}
		// The answer's body is read only up to probeMaxBody.
		if stderr.Len() > probeMaxBody+len(srv.URL)+200 {
			t.Errorf("probe %v: stderr has %d bytes, want the body cut at %d", tc.args, stderr.Len(), probeMaxBody)
		}
	}
}

// Without -url the probe asks the admin port's /readyz the manifests use.
func TestProbeDefaultURL(t *testing.T) {
	if defaultProbeURL != "http://127.0.0.1:9480/readyz" {
		t.Errorf("defaultProbeURL = %q, want the admin port 9480's /readyz", defaultProbeURL)
	}
}
