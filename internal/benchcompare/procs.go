package benchcompare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is a server the harness started (nginx, cobrowse-proxy) in its own
// process group, so that stop reaches nginx's workers too, and a Ctrl-C in
// the terminal reaches only the harness, which then stops them in order.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
}

func startProc(name, logPath, bin string, args ...string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process group to terminate (nginx: fast shutdown; the
// proxy: graceful shutdown) and kills it after grace.
func (p *proc) stop(grace time.Duration) {
	pg := -p.cmd.Process.Pid
	_ = syscall.Kill(pg, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(pg, syscall.SIGKILL)
		<-p.done
	}
	// Children that outlived their parent (nginx workers) go too.
	_ = syscall.Kill(pg, syscall.SIGKILL)
}

// logTail is the end of the process's output, for error messages.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// waitHTTP polls url until it answers with want, the process exits, ctx
// ends or timeout passes.
func waitHTTP(ctx context.Context, p *proc, url string, want int, timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited before it was ready (%v); its output:\n%s", p.name, p.waitErr, p.logTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s after %s (last: %v)", p.name, url, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freeAddr finds a free loopback port for a child process to listen on.
// The port is free when returned; a racing process could take it, and
// the child would then fail to start with a clear error.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// findTool looks name up in PATH and in the sbin directories a non-root
// PATH often lacks (Debian puts nginx in /usr/sbin).
func findTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or /usr/sbin", name)
}

// ensureTool finds name, installing Debian package pkg with apt-get when it
// is missing and install is allowed and we are root.
func ensureTool(ctx context.Context, name, pkg string, install bool, log io.Writer) (string, error) {
	if p, err := findTool(name); err == nil {
		return p, nil
	}
	hint := fmt.Sprintf("%s is missing: install it with `sudo apt-get install -y %s` (Debian/Ubuntu)", name, pkg)
	if !install {
		return "", errors.New(hint)
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%s; not root, so the harness does not install it itself", hint)
	}
	fmt.Fprintf(log, "installing %s (apt-get install -y %s)\n", name, pkg)
	if err := aptGet(ctx, log, "install", "-y", pkg); err != nil {
		// A fresh container has no package lists yet.
		if err := aptGet(ctx, log, "update"); err != nil {
			return "", fmt.Errorf("%s: apt-get update: %w", hint, err)
		}
		if err := aptGet(ctx, log, "install", "-y", pkg); err != nil {
			return "", fmt.Errorf("%s: apt-get install: %w", hint, err)
		}
	}
	return findTool(name)
}

func aptGet(ctx context.Context, log io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = log, log
	return cmd.Run()
}
