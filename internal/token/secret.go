package token

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"
)

// SecretSource yields the SDK secret each time a token is signed. An
// implementation must return an error, never an empty secret, when it has
// none, so that signing fails closed. Errors must not contain the secret.
type SecretSource interface {
	Secret() ([]byte, error)
}

// ErrNoSecret is returned when a source has no usable secret.
var ErrNoSecret = errors.New("sdk secret is empty")

// MinSecretLen is the shortest SDK secret a FileSecret accepts, the same
// bound as config.MinSDKSecretLen. Zoom's secrets are 32 characters; a
// shorter one is a truncated copy, or weak enough to be guessed offline
// from any token it signed.
const MinSecretLen = 16

// ErrSecretTooShort is returned when a secret file holds fewer than
// MinSecretLen bytes and there is no earlier secret to keep.
var ErrSecretTooShort = fmt.Errorf("sdk secret is shorter than %d bytes", MinSecretLen)

// StaticSecret is a secret fixed at start-up (from the config or an
// environment variable). Rotating it needs a restart; use FileSecret for a
// mounted Kubernetes Secret instead.
type StaticSecret []byte

// Secret returns a copy of s, or ErrNoSecret when s is empty.
func (s StaticSecret) Secret() ([]byte, error) {
	if len(s) == 0 {
		return nil, ErrNoSecret
	}
	return bytes.Clone(s), nil
}

// String keeps the secret out of %v and %s.
func (s StaticSecret) String() string { return "[REDACTED]" }

// GoString keeps the secret out of %#v.
func (s StaticSecret) GoString() string { return "token.StaticSecret([REDACTED])" }

// FileSecret reads the secret from a file and reads it again when the file
// changes, so rotating a mounted Kubernetes Secret needs no restart.
//
// Kubernetes updates a Secret volume by swapping a symlink to a new
// directory, so the file that os.Stat follows is a different file with a new
// modification time; a change of file identity, size or modification time
// triggers a re-read. Leading and trailing white space (the newline an
// editor or `echo` adds) is trimmed.
//
// A file that cannot be stat'ed or read, or that is empty, makes Secret
// return an error, and the last good secret is forgotten: a token is never
// signed with a secret the operator may have meant to withdraw.
//
// A file that holds a secret shorter than MinSecretLen is different: that
// is a mistake in the new secret (a truncated paste), not a withdrawal, so
// it is refused and logged once, and the last good secret stays in use; with
// no last good secret, Secret returns ErrSecretTooShort.
type FileSecret struct {
	// Log receives the refusal of a too-short secret (nil: discarded).
	// Set it before the first call to Secret.
	Log *slog.Logger

	path     string
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	checked time.Time   // when the file was last stat'ed
	info    os.FileInfo // what the cached secret was read from
	refused os.FileInfo // a too-short version of the file, not read again
	secret  []byte
}

// NewFileSecret returns a source reading path. The file is stat'ed at most
// once per interval (0: on every call; a stat is cheap next to signing); now
// is the clock (nil: time.Now). The file is first read on the first call to
// Secret, so a missing file is reported there, and by Check.
func NewFileSecret(path string, interval time.Duration, now func() time.Time) *FileSecret {
	if now == nil {
		now = time.Now
	}
	return &FileSecret{path: path, interval: interval, now: now}
}

// Check reads the file now and reports whether it holds a usable secret; the
// caller can use it at start-up (and in readiness checks) to fail early.
func (f *FileSecret) Check() error {
	_, err := f.Secret()
	return err
}

// Secret returns the current secret, re-reading the file when it changed.
func (f *FileSecret) Secret() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if f.secret != nil && f.interval > 0 && now.Sub(f.checked) < f.interval {
		return bytes.Clone(f.secret), nil
	}
	f.checked = now
	info, err := os.Stat(f.path)
	if err != nil {
		f.forget()
		return nil, fmt.Errorf("stat sdk secret file %s: %w", f.path, cause(err))
	}
	if f.secret != nil && (sameFile(f.info, info) || sameFile(f.refused, info)) {
		return bytes.Clone(f.secret), nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		f.forget()
		return nil, fmt.Errorf("read sdk secret file %s: %w", f.path, cause(err))
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		f.forget()
		return nil, fmt.Errorf("read sdk secret file %s: %w", f.path, ErrNoSecret)
	}
	if n := len(b); n < MinSecretLen {
		clear(b)
		err := fmt.Errorf("read sdk secret file %s: %w (it holds %d bytes; Zoom's SDK secrets are 32 characters)", f.path, ErrSecretTooShort, n)
		if f.secret == nil {
			return nil, err
		}
		f.refused = info
		if f.Log != nil {
			f.Log.Error("new sdk secret refused, still signing with the previous one: copy the whole SDK secret into the file", "error", err)
		}
		return bytes.Clone(f.secret), nil
	}
	f.info, f.refused, f.secret = info, nil, b
	return bytes.Clone(b), nil
}

func (f *FileSecret) forget() {
	clear(f.secret)
	f.info, f.refused, f.secret = nil, nil, nil
}

// cause strips the path from an *fs.PathError, which the message already names.
func cause(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

func sameFile(a, b os.FileInfo) bool {
	return a != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
