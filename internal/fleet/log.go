package fleet

import (
	"context"
	"fmt"
	"log/slog"
)

// maxLogMessage bounds a go-redis message in the log (its lines name an
// address and an error; nothing longer is useful).
const maxLogMessage = 1024

// Logger passes go-redis's own log lines (a pool that cannot dial, a
// connection discarded) to slog at warn level, instead of the standard
// logger on stderr that go-redis uses by default, which would break a
// JSON log. Install it with redis.SetLogger(fleet.Logger{Log: log}):
// go-redis keeps one logger for the whole process, so that call is the
// one package-level setting; every client, this package's and the
// certificate storage's, then logs through it.
type Logger struct {
	Log *slog.Logger
}

// Printf implements go-redis's internal.Logging.
func (l Logger) Printf(ctx context.Context, format string, v ...any) {
	if l.Log == nil {
		return
	}
	msg := fmt.Sprintf(format, v...)
	if len(msg) > maxLogMessage {
		msg = msg[:maxLogMessage] + "…"
	}
	l.Log.LogAttrs(ctx, slog.LevelWarn, "redis client", slog.String("message", msg))
}
