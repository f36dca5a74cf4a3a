// Command benchcompare measures cobrowse-proxy side by side with the
// upstream served directly, a bare httputil.ReverseProxy and nginx's
// sub_filter, on loopback, and prints a markdown table (make bench-compare).
// See docs/performance.md and internal/benchcompare.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/benchcompare"
)

func main() {
	// Ctrl-C cancels the run, and Run stops every process it started;
	// a second Ctrl-C kills the harness outright.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "benchcompare:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchcompare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 5*time.Second, "length of each wrk run (whole seconds)")
	rounds := fs.Int("rounds", 3, "runs per target and workload; the median is reported")
	conns := fs.Int("conns", 32, "wrk connections (html-100k-c1000 always uses 1000)")
	workloads := fs.String("workloads", "", "comma-separated subset of: "+workloadNames()+" (default all)")
	proxyBin := fs.String("proxy-bin", "", "cobrowse-proxy binary to measure (default: build ./cmd/cobrowse-proxy of this checkout)")
	out := fs.String("out", "", "also write the markdown table to this file")
	noInstall := fs.Bool("no-install", false, "never apt-get install nginx-light or wrk")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *rounds < 1 || *conns < 1 || *duration < time.Second {
		return fmt.Errorf("-rounds and -conns must be at least 1 and -duration at least 1s")
	}
	ws, err := benchcompare.SelectWorkloads(*workloads)
	if err != nil {
		return err
	}
	repo, err := benchcompare.FindRepoDir(".")
	if err != nil && *proxyBin == "" {
		return fmt.Errorf("run from the repository (or pass -proxy-bin): %w", err)
	}
	rep, err := benchcompare.Run(ctx, benchcompare.Options{
		Duration:  *duration,
		Rounds:    *rounds,
		Conns:     *conns,
		Workloads: ws,
		ProxyBin:  *proxyBin,
		RepoDir:   repo,
		Install:   !*noInstall,
		Log:       stderr,
	})
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		return err
	}
	fmt.Fprint(stdout, b.String())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("-out: %w", err)
		}
	}
	return nil
}

func workloadNames() string {
	names := make([]string, len(benchcompare.Workloads))
	for i, w := range benchcompare.Workloads {
		names[i] = w.Name
	}
	return strings.Join(names, ",")
}
