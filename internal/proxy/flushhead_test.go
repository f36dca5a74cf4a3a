package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFlushHeadNoRoom: headers that leave no room in the connection buffer
// (room 0 or less) send the whole head, also for a page with no tag
// (TagEnd -1), and never slice the buffer out of range.
func TestFlushHeadNoRoom(t *testing.T) {
	for _, room := range []int{-1, 0, 1} {
		rec := httptest.NewRecorder()
		pad := connWriteBuffer - room - headerSize(http.Header{}, true) - len("X-Pad: \r\n")
		rec.Header().Set("X-Pad", strings.Repeat("p", pad))
		if got := connWriteBuffer - headerSize(rec.Header(), true); got != room {
			t.Fatalf("room %d, want %d", got, room)
		}
		pool := &bufferPool{}
		pool.New = func() any { b := make([]byte, 32<<10); return &b }
		s := &statusWriter{ResponseWriter: rec}
		s.coalesce(nil, pool, 0, true)
		s.WriteHeader(http.StatusOK)
		head := strings.Repeat("h", 5000)
		s.Write([]byte(head))
		s.flushNext(-1)
		s.Flush()
		want := head
		if room > 0 {
			want = head[:room] // the rest waits for the next bytes
		}
		if got := rec.Body.String(); got != want {
			t.Errorf("room %d: %d bytes sent, want %d", room, len(got), len(want))
		}
		s.finish()
		if got := rec.Body.String(); got != head {
			t.Errorf("room %d: %d bytes after finish, want %d", room, len(got), len(head))
		}
	}
}
