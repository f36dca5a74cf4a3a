// Command cobrowse-proxy is an HTTPS reverse proxy that adds Zoom Cobrowse
// to an existing website without changing the site's code.
//
//	cobrowse-proxy run -config FILE       serve the sites in FILE
//	cobrowse-proxy validate -config FILE  check FILE, list every problem
//	cobrowse-proxy demo                   a demo shop behind the proxy, on loopback
//	cobrowse-proxy token -config FILE     mint a token for debugging
//	cobrowse-proxy hash-key               hash an agent access key for the config
//	cobrowse-proxy probe [-url URL]       exit 0 when URL answers 200 (container probes)
//	cobrowse-proxy version                print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// version, commit and buildDate are stamped in at build time (make build,
// make image): -ldflags "-X main.version=v1.2.3 -X main.commit=SHA
// -X main.buildDate=2026-12-03T07:00:00Z". commit and buildDate win over
// the vcs settings Go records, which a build outside a git checkout (a
// container build context) does not have.
var (
	version   = ""
	commit    = ""
	buildDate = ""
)

const usage = `cobrowse-proxy adds Zoom Cobrowse to a website without changing its code.

Usage:
  cobrowse-proxy run -config FILE       serve the sites configured in FILE
  cobrowse-proxy validate -config FILE [-allow-missing-env]
                                        check FILE and list every problem (exit 1 if any)
  cobrowse-proxy validate -policy FILE  check a masking policy file on its own
  cobrowse-proxy policy -config FILE [-site NAME]
                                        print each site's effective masking policy as JSON
  cobrowse-proxy demo [-listen ADDR]    run a demo shop behind the proxy on loopback
  cobrowse-proxy token -config FILE -role 1|2 [-user-id X] [-user-name Y]
                                        mint a token for debugging
  cobrowse-proxy hash-key [-generate]   hash an agent access key (read from stdin) for the config
  cobrowse-proxy webhook -cert FILE -key FILE [-listen :9443] [-metrics :9090] [-image IMAGE]
                                        serve the admission webhook that adds the proxy to pods
  cobrowse-proxy inject -f FILE|-       add the proxy to the pod templates of manifests (stdout)
  cobrowse-proxy probe [-url URL]       exit 0 when URL answers 200 (container probes)
  cobrowse-proxy version                print the version

Run "cobrowse-proxy COMMAND -h" for a command's flags.
`

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// runMain runs a subcommand and returns the process exit code: 0 on
// success, 1 when the command failed, 2 for a usage error.
func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stderr)
	case "validate":
		err = cmdValidate(args[1:], stdout, stderr)
	case "policy":
		err = cmdPolicy(args[1:], stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "token":
		err = cmdToken(args[1:], os.Stdin, stdout, stderr)
	case "hash-key":
		err = cmdHashKey(args[1:], os.Stdin, stdout, stderr)
	case "webhook":
		err = cmdWebhook(ctx, args[1:], stderr)
	case "inject":
		err = cmdInject(args[1:], os.Stdin, stdout, stderr)
	case "probe":
		err = cmdProbe(ctx, args[1:], stderr)
	case "version", "-version", "--version":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "cobrowse-proxy version: takes no arguments (got %q)\n", args[1])
			return 2
		}
		bi, _ := debug.ReadBuildInfo()
		fmt.Fprintln(stdout, "cobrowse-proxy", stampedVersionLine(versionString(), commit, buildDate, bi))
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "cobrowse-proxy: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "cobrowse-proxy %s: %s\n", args[0], ue.msg)
		return 2
	case errors.Is(err, errUsageReported):
		return 2
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintf(stderr, "cobrowse-proxy %s: %v\n", args[0], err)
		return 1
	}
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// errReported means the command already told the user what went wrong.
var errReported = errors.New("reported")

// errUsageReported is a usage error the flag package has already printed,
// with the command's flags: exit 2 without saying it again.
var errUsageReported = errors.New("usage error reported")

// flagError turns an error from FlagSet.Parse, already printed, into
// errUsageReported; -h stays flag.ErrHelp (exit 0).
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsageReported
}

// parseFlags parses a command's flags. A bad flag is a usage error (exit 2)
// that the flag package has already printed once; a stray argument is one
// too, rather than being silently ignored.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q (flags go before arguments; see -h)", fs.Arg(0))}
	}
	return nil
}

// versionLine is what the version command prints after the name: the
// version, the commit Go stamped in at build time (vcs.revision, vcs.time,
// vcs.modified: go build does this in a git checkout) and the Go version,
// so that a "dev" build can still be traced to its source.
func versionLine(v string, bi *debug.BuildInfo) string {
	return stampedVersionLine(v, "", "", bi)
}

// stampedVersionLine is versionLine with the commit and build date stamped
// in by -ldflags; an empty one falls back to Go's vcs settings.
func stampedVersionLine(v, stampedCommit, stampedDate string, bi *debug.BuildInfo) string {
	var rev, when string
	modified := false
	goVersion := runtime.Version()
	if bi != nil {
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if stampedCommit != "" {
		rev, modified = stampedCommit, false
	}
	if stampedDate != "" {
		when = stampedDate
	}
	out := v
	if rev != "" {
		out += " (commit " + rev
		if modified {
			out += ", modified"
		}
		if when != "" {
			out += ", " + when
		}
		out += ")"
	}
	return out + " " + goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
