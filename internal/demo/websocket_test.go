package demo

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestWebsocketEcho(t *testing.T) {
	srv := newTestShop(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"

	c, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	tests := []struct {
		typ websocket.MessageType
		msg string
	}{
		{websocket.MessageText, "hello"},
		{websocket.MessageText, "héllo, wörld ⛺"},
		{websocket.MessageBinary, "\x00\x01\x02"},
		{websocket.MessageText, strings.Repeat("x", 10000)},
	}
	for _, tt := range tests {
		if err := c.Write(ctx, tt.typ, []byte(tt.msg)); err != nil {
			t.Fatalf("write: %v", err)
		}
		typ, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if typ != tt.typ || string(got) != tt.msg {
			t.Errorf("echo = (%v, %.20q), want (%v, %.20q)", typ, got, tt.typ, tt.msg)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestWebsocketOrigin(t *testing.T) {
	srv := newTestShop(t)
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	tests := []struct {
		origin string
		ok     bool
	}{
		{"http://shop.localhost:8080", true},
		{"http://localhost:8080", true},
		{"http://127.0.0.1:9999", true},
		{"https://evil.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			c, res, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
				HTTPHeader: http.Header{"Origin": {tt.origin}},
			})
			if tt.ok {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c.Close(websocket.StatusNormalClosure, "")
				return
			}
			if err == nil {
				c.CloseNow()
				t.Fatal("dial from a foreign origin succeeded")
			}
			if res == nil || res.StatusCode != http.StatusForbidden {
				t.Errorf("foreign origin: response %v, want 403", res)
			}
		})
	}
}
