package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// defaultProbeURL is the readiness endpoint on the admin port the
// Kubernetes manifests use (listen.admin ":9480").
const defaultProbeURL = "http://127.0.0.1:9480/readyz"

// probeMaxBody bounds what a probe reads of the answer: enough to show a
// short reason, never a whole page from something else on the port.
const probeMaxBody = 512

// cmdProbe is an exec probe for images without a shell or curl (the image
// is FROM scratch): GET url and exit 0 on a 200, else 1 with the reason on
// stderr. Kubelet HTTP probes on the admin port do the same without an
// exec; this is for runtimes or platforms that only offer command probes.
func cmdProbe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", defaultProbeURL, "URL to GET; exit 0 only on 200 (http or https)")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long (the probe's timeoutSeconds should be longer)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	u, err := url.Parse(*target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Sprintf("-url %q: want an absolute http(s) URL such as %s", *target, defaultProbeURL)}
	}
	if *timeout <= 0 {
		return usageError{fmt.Sprintf("-timeout %s: must be > 0, e.g. 2s", *timeout)}
	}
	return probe(ctx, *target, *timeout)
}

// probe GETs target and returns nil only for a 200. Redirects are not
// followed: a probe that ends somewhere else checks nothing.
func probe(ctx context.Context, target string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", target, err)
	}
	req.Header.Set("User-Agent", "cobrowse-proxy-probe")
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return err // names the method and URL already
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, probeMaxBody))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d %q", target, resp.StatusCode, body)
	}
	return nil
}
