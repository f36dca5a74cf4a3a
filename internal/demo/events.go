package demo

import (
	"fmt"
	"net/http"
	"time"
)

// events streams server-sent events: one event per interval with an id and
// a small JSON payload, each flushed at once. A proxy that buffers the
// response shows up as events arriving in bursts or not at all.
//
// The stream ends when the client goes away or after opts.maxEvents events;
// the last event is named "done" so the page can close its EventSource
// instead of letting the browser reconnect.
func (s *shop) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		s.logger.Warn("demo: event stream cannot flush", "err", err)
		return
	}

	ticker := time.NewTicker(s.opts.eventInterval)
	defer ticker.Stop()
	for n := 1; ; n++ {
		now := time.Now()
		if _, err := fmt.Fprintf(w, "id: %d\ndata: {\"n\":%d,\"time\":%q}\n\n", n, n, now.Format("15:04:05")); err != nil {
			return
		}
		if n >= s.opts.maxEvents {
			fmt.Fprint(w, "event: done\ndata: {}\n\n")
			rc.Flush()
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-ticker.C:
		}
	}
}
