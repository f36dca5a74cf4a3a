package reload

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reloads when the config file or the policy file may have changed,
// until ctx ends. It watches their directories, not the files: a
// Kubernetes ConfigMap volume updates by renaming a new ..data symlink
// over the old one, which never touches the file's own inode, and editors
// that save by rename replace the inode too. Events are debounced, and a
// reload happens only when the files' content differs from the last
// attempt, so unrelated files in the same directory (a rotated secret)
// cause no reload.
func (r *Reloader) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config: %w", err)
	}
	defer w.Close()
	watched := map[string]bool{}
	watchDirs := func() {
		for _, p := range r.files() {
			dir := filepath.Dir(p)
			if watched[dir] {
				continue
			}
			if err := w.Add(dir); err != nil {
				r.log.Warn("cannot watch the config's directory; reload with SIGHUP or POST /-/reload", "dir", dir, "error", err)
				continue
			}
			watched[dir] = true
		}
	}
	watchDirs()
	r.watching.Store(true)
	timer := time.NewTimer(0)
	if !timer.Stop() {
		<-timer.C
	}
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.Warn("config watch error", "error", err)
		case _, ok := <-w.Events:
			if !ok {
				return nil
			}
			timer.Reset(r.o.Debounce)
		case <-timer.C:
			if r.changed() {
				r.log.Info("config files changed: reloading")
				r.Reload(TriggerFile)
				watchDirs() // a new policyFile may live elsewhere
			}
		}
	}
}

// files are the paths a reload reads: the config and its policy file.
func (r *Reloader) files() []string {
	cur := r.Current()
	out := []string{r.o.Path}
	if p := cur.Masking.PolicyFile; p != "" {
		out = append(out, p)
	}
	return out
}

// changed reports whether the files differ from the last reload attempt.
func (r *Reloader) changed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sourcesHash(r.o.Path, r.cur) != r.lastTried
}
