package demo

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// echoIdle closes a websocket that has been silent this long, so an
// abandoned tab does not hold a connection forever.
const echoIdle = 5 * time.Minute

// loopbackOrigins returns the origins allowed to open the echo websocket. The
// browser's Origin is the proxy's host (e.g. shop.localhost:8080), which
// differs from the Host the demo sees when the proxy rewrites it to the
// upstream address, so the same-host check alone would refuse the demo.
// The demo only ever listens on loopback; these patterns keep it that way
// for websockets rather than accepting any origin.
func loopbackOrigins() []string {
	return []string{
		"localhost", "localhost:*",
		"*.localhost", "*.localhost:*",
		"127.0.0.1", "127.0.0.1:*",
		"[::1]", "[::1]:*",
	}
}

// echo accepts a websocket and sends every message back unchanged, text as
// text and binary as binary, until the client closes it.
func (s *shop) echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: loopbackOrigins()})
	if err != nil {
		s.logger.Info("demo: websocket refused", "err", err)
		return // Accept has already answered
	}
	defer c.CloseNow()

	ctx := r.Context()
	for {
		err := echoOnce(ctx, c)
		switch {
		case err == nil:
			continue
		case websocket.CloseStatus(err) == websocket.StatusNormalClosure,
			websocket.CloseStatus(err) == websocket.StatusGoingAway:
			return
		case errors.Is(err, context.DeadlineExceeded):
			c.Close(websocket.StatusNormalClosure, "idle")
			return
		default:
			s.logger.Debug("demo: websocket echo ended", "err", err)
			return
		}
	}
}

func echoOnce(ctx context.Context, c *websocket.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, echoIdle)
	defer cancel()
	typ, msg, err := c.Read(ctx)
	if err != nil {
		return err
	}
	return c.Write(ctx, typ, msg)
}
