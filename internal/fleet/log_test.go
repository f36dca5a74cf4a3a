package fleet

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Logger is what redis.SetLogger takes (checked by the compiler, never
// called: the test does not change go-redis's process-wide logger).
var _ = func() { redis.SetLogger(Logger{}) }

// TestLogger: a go-redis line becomes one warn record with the formatted
// message, bounded in length; a nil slog logger drops it.
func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	l := Logger{Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	l.Printf(t.Context(), "redis: connection pool: failed to dial after %d attempts: %v", 5, "dial tcp 127.0.0.1:1: connect: connection refused")
	l.Printf(t.Context(), "%s", strings.Repeat("x", 5000))
	Logger{}.Printf(t.Context(), "dropped")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d records, want 2:\n%s", len(lines), buf.String())
	}
	var rec struct{ Level, Msg, Message string }
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Level != "WARN" || rec.Msg != "redis client" || rec.Message != "redis: connection pool: failed to dial after 5 attempts: dial tcp 127.0.0.1:1: connect: connection refused" {
		t.Errorf("record %+v", rec)
	}
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Message) != maxLogMessage+len("…") {
		t.Errorf("a 5000-byte message logged as %d bytes, want %d", len(rec.Message), maxLogMessage+len("…"))
	}
}
