package tlsconf

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"go.uber.org/zap/zapcore"
)

// slogCore lets certmagic, which logs through zap, write to our slog
// logger. certmagic's info messages (every step of every order) become
// debug: the outcomes are logged at info by onEvent instead.
type slogCore struct {
	log *slog.Logger
}

func newSlogCore(log *slog.Logger) zapcore.Core { return slogCore{log: log} }

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.InfoLevel:
		return slog.LevelDebug
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	}
	return slog.LevelError
}

func (c slogCore) Enabled(l zapcore.Level) bool {
	return c.log.Enabled(context.Background(), slogLevel(l))
}

func (c slogCore) With(fields []zapcore.Field) zapcore.Core {
	return slogCore{log: c.log.With(attrs(fields)...)}
}

func (c slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	args := attrs(fields)
	if e.LoggerName != "" {
		args = append(args, slog.String("logger", e.LoggerName))
	}
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Add(args...)
	return c.log.Handler().Handle(context.Background(), r)
}

func (c slogCore) Sync() error { return nil }

func attrs(fields []zapcore.Field) []any {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, slog.Any(k, enc.Fields[k]))
	}
	return out
}
