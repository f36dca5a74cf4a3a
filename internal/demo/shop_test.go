package demo

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const testWidgetsURL = "http://widgets.localhost:8080"

// newTestShop starts the shop on a real loopback listener with fast events.
func newTestShop(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(newShop(slog.New(slog.DiscardHandler), testWidgetsURL+"/",
		options{eventInterval: 20 * time.Millisecond, maxEvents: 5}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *http.Client, rawURL string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", rawURL, err)
	}
	return res, string(body)
}

func TestShopPages(t *testing.T) {
	srv := newTestShop(t)
	tests := []struct {
		path     string
		status   int
		document bool     // a full document, or a fragment
		contains []string // substrings the body must have
	}{
		{"/", 200, true, []string{`<title>Acme Outdoor Shop</title>`, `id="load-reviews"`, `/__cobrowse/bootstrap&#46;js`, `href="/checkout"`, `href="/iframe"`, `href="/live"`, `href="/gzip"`}},
		{"/checkout", 200, true, []string{`<form class="checkout" method="post" action="/checkout"`, `aria-current="page"`}},
		{"/iframe", 200, true, []string{`<iframe src="http://widgets.localhost:8080/chat" title="Support chat"`}},
		{"/live", 200, true, []string{`id="sse-log"`, `id="ws-form"`}},
		{"/gzip", 200, true, []string{`uncompressed`}},
		{"/fragment", 200, false, []string{`<div class="reviews">`}},
		{"/no-such-page", 404, true, []string{`Trail not found`, `/no-such-page`}},
	}
	// Requests set Accept-Encoding themselves so /gzip answers plain text.
	plain := http.Header{"Accept-Encoding": {"identity"}}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, body := get(t, srv.Client(), srv.URL+tt.path, plain)
			if res.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.status)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q, want text/html; charset=utf-8", ct)
			}
			isDoc := strings.HasPrefix(body, "<!doctype html>")
			if isDoc != tt.document {
				t.Errorf("starts with <!doctype html> = %v, want %v; body starts %q", isDoc, tt.document, head(body))
			}
			if tt.document {
				for _, want := range []string{`<html lang=en>`, `<meta charset="utf-8">`, `<link rel="stylesheet" href="/static/style.css">`, `<script src="/static/app.js" defer></script>`, `<nav`} {
					if !strings.Contains(body, want) {
						t.Errorf("document lacks %s", want)
					}
				}
			} else {
				for _, bad := range []string{"<html", "<head", "<body", "<script"} {
					if strings.Contains(body, bad) {
						t.Errorf("fragment contains %s", bad)
					}
				}
			}
			for _, want := range tt.contains {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %s", want)
				}
			}
			if strings.Contains(body, "<script>") {
				t.Error("page has an inline script; the shop keeps all script in /static/app.js")
			}
		})
	}
}

func TestCheckoutSensitiveFields(t *testing.T) {
	srv := newTestShop(t)
	_, body := get(t, srv.Client(), srv.URL+"/checkout", nil)
	tests := []struct {
		id    string
		attrs []string
	}{
		{"name", []string{`name="name"`, `autocomplete="name"`}},
		{"email", []string{`name="email"`, `type="email"`}},
		{"address", []string{`name="address"`}},
		{"cc-number", []string{`class="pii-mask"`, `autocomplete="cc-number"`}},
		{"cc-exp", []string{`class="pii-mask"`, `autocomplete="cc-exp"`}},
		{"cc-csc", []string{`class="pii-mask"`, `autocomplete="cc-csc"`}},
		{"ssn", []string{`data-sensitive="true"`, `name="ssn"`}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			tag := elementWithID(body, tt.id)
			if tag == "" {
				t.Fatalf("no element with id=%q", tt.id)
			}
			for _, a := range tt.attrs {
				if !strings.Contains(tag, a) {
					t.Errorf("%s lacks %s", tag, a)
				}
			}
		})
	}
}

func TestCheckoutSubmitDoesNotEcho(t *testing.T) {
	srv := newTestShop(t)
	form := url.Values{
		"name":      {"Ada <Lovelace>"},
		"email":     {"ada@example.com"},
		"address":   {"12 Analytical Row"},
		"cc-number": {"4242424242424242"},
		"cc-exp":    {"12/34"},
		"cc-csc":    {"987"},
		"ssn":       {"123-45-6789"},
	}
	res, err := srv.Client().PostForm(srv.URL+"/checkout", form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	body := string(b)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	if !strings.HasPrefix(body, "<!doctype html>") {
		t.Errorf("thank-you page is not a document: %q", head(body))
	}
	if !strings.Contains(body, "Thank you, Ada &lt;Lovelace&gt;!") {
		t.Error("thank-you page lacks the escaped name")
	}
	for _, secret := range []string{"4242424242424242", "4242", "12/34", "987", "123-45-6789", "6789"} {
		if strings.Contains(body, secret) {
			t.Errorf("thank-you page echoes %q", secret)
		}
	}
}

func TestStaticFiles(t *testing.T) {
	srv := newTestShop(t)
	widgets := httptest.NewServer(Widgets(nil))
	t.Cleanup(widgets.Close)
	tests := []struct {
		url, contentType string
	}{
		{srv.URL + "/static/style.css", "text/css; charset=utf-8"},
		{srv.URL + "/static/app.js", "text/javascript; charset=utf-8"},
		{widgets.URL + "/static/widgets.css", "text/css; charset=utf-8"},
		{widgets.URL + "/static/chat.js", "text/javascript; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			res, body := get(t, http.DefaultClient, tt.url, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", ct, tt.contentType)
			}
			if cc := res.Header.Get("Cache-Control"); cc != staticMaxAge {
				t.Errorf("Cache-Control = %q, want %q", cc, staticMaxAge)
			}
			if len(body) == 0 {
				t.Error("empty body")
			}
		})
	}
	res, _ := get(t, srv.Client(), srv.URL+"/static/nope.css", nil)
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("missing static file: status = %d, want 404", res.StatusCode)
	}
}

func TestWidgetsChat(t *testing.T) {
	srv := httptest.NewServer(Widgets(slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	res, body := get(t, srv.Client(), srv.URL+"/chat", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	for _, want := range []string{"<!doctype html>", `<html lang=en>`, `<meta charset="utf-8">`, `<title>`, `href="/static/widgets.css"`} {
		if !strings.Contains(body, want) {
			t.Errorf("chat page lacks %s", want)
		}
	}
	if !strings.HasPrefix(body, "<!doctype html>") {
		t.Errorf("chat page starts %q", head(body))
	}
}

// elementWithID returns the start tag of the element with the given id, or "".
func elementWithID(body, id string) string {
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(body[:i], "<")
	end := strings.Index(body[i:], ">")
	if start < 0 || end < 0 {
		return ""
	}
	return body[start : i+end+1]
}

func head(s string) string {
	if len(s) > 60 {
		return s[:60]
	}
	return s
}
