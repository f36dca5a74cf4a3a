package demo

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestEventsStream(t *testing.T) {
	srv := newTestShop(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control = %q", cc)
	}

	// Read event by event. Each arrives on its own only if the server flushes;
	// the 5 s context is the deadline.
	sc := bufio.NewScanner(res.Body)
	var ids, data []string
	for len(data) < 2 && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			ids = append(ids, strings.TrimPrefix(line, "id: "))
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		}
	}
	if len(data) < 2 {
		t.Fatalf("got %d events before the stream stopped (err %v), want 2", len(data), sc.Err())
	}
	if strings.Join(ids, ",") != "1,2" {
		t.Errorf("ids = %v, want [1 2]", ids)
	}
	if !strings.HasPrefix(data[0], `{"n":1,"time":"`) {
		t.Errorf("first data = %q", data[0])
	}
	cancel() // the client goes away; the handler must notice
}

func TestEventsEndByThemselves(t *testing.T) {
	srv := newTestShop(t) // maxEvents 5, 20 ms apart
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	var n int
	var last string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "id: ") {
			n++
		}
		if sc.Text() != "" {
			last = sc.Text()
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("stream did not end by itself: %v", err)
	}
	if n != 5 {
		t.Errorf("got %d events, want 5", n)
	}
	if last != "data: {}" {
		t.Errorf("last line = %q, want the done event's data", last)
	}
}
