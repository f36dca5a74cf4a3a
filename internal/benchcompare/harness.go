package benchcompare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Workload is one line of the table: a page, how the client asks for it,
// and how many connections load it.
type Workload struct {
	Name string
	Path string
	// Coding is the content coding the client asks for with
	// Accept-Encoding ("" sends no header): "gzip", "br" or "zstd". The
	// upstream then sends its page pre-compressed in it, and every target
	// but nginx must answer in it too (nginx clears the header upstream
	// and answers uncompressed).
	Coding string
	// Accept, when set, is the Accept-Encoding header instead of Coding: a
	// browser's list, of which the upstream picks Coding.
	Accept string
	// ProxyCoding, when set, is the coding cobrowse-proxy answers in
	// instead of Coding: it re-encodes a br page in the cheapest coding
	// the client accepts as much (encoding.Codecs.Reencoding).
	ProxyCoding string
	// ManyConns: load with Options.ManyConns connections instead of Conns,
	// and count TIME_WAIT sockets to each target's upstream afterwards.
	ManyConns bool
	// Binary: a passthrough body, compared byte for byte; no target injects.
	Binary bool
	// Navigate sends what a browser sends when it navigates to a page
	// (Sec-Fetch-Dest: document, an Accept that names text/html): then
	// cobrowse-proxy asks the upstream for the page plain and compresses
	// it once (proxy.upstreamPlain). Without it the client
	// is a script, and a compressed page is decoded and encoded again.
	Navigate bool
}

// navigationHeaders are the request headers of a browser's navigation
// that the proxy looks at (Chrome's Accept).
var navigationHeaders = [...][2]string{
	{"Sec-Fetch-Dest", "document"},
	{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"},
}

// headers returns the request headers w's requests carry.
func (w Workload) headers() [][2]string {
	var h [][2]string
	if ae := w.accept(); ae != "" {
		h = append(h, [2]string{"Accept-Encoding", ae})
	}
	if w.Navigate {
		h = append(h, navigationHeaders[:]...)
	}
	return h
}

// Workloads is every workload, in table order.
var Workloads = []Workload{
	{Name: "html-10k", Path: PathHTML10K},
	{Name: "html-100k", Path: PathHTML100K},
	{Name: "html-1m", Path: PathHTML1M},
	{Name: "gzip-10k", Path: PathHTML10K, Coding: "gzip", Navigate: true},
	{Name: "gzip-100k", Path: PathHTML100K, Coding: "gzip", Navigate: true},
	// A script's request: the proxy decodes the page and encodes it again.
	{Name: "gzip-100k-script", Path: PathHTML100K, Coding: "gzip"},
	{Name: "br-100k", Path: PathHTML100K, Coding: "br", Navigate: true},
	// Safari's list: the upstream sends br, the proxy answers gzip.
	{Name: "br-100k-browser", Path: PathHTML100K, Coding: "br", Accept: "gzip, deflate, br", ProxyCoding: "gzip", Navigate: true},
	{Name: "zstd-100k", Path: PathHTML100K, Coding: "zstd", Navigate: true},
	{Name: "binary-1m", Path: PathBinary1M, Binary: true},
	{Name: "html-100k-c1000", Path: PathHTML100K, ManyConns: true},
}

// accept is the Accept-Encoding header w's requests carry ("" for none).
func (w Workload) accept() string {
	if w.Accept != "" {
		return w.Accept
	}
	return w.Coding
}

// SelectWorkloads returns the workloads named in the comma-separated list
// (all of them for ""), in table order, or an error naming an unknown one.
func SelectWorkloads(list string) ([]Workload, error) {
	if strings.TrimSpace(list) == "" {
		return Workloads, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		found := false
		for _, w := range Workloads {
			found = found || w.Name == n
		}
		if !found {
			names := make([]string, len(Workloads))
			for i, w := range Workloads {
				names[i] = w.Name
			}
			return nil, fmt.Errorf("-workloads: unknown workload %q; known: %s", n, strings.Join(names, ","))
		}
		want[n] = true
	}
	var out []Workload
	for _, w := range Workloads {
		if want[w.Name] {
			out = append(out, w)
		}
	}
	return out, nil
}

// Options are the harness's settings; the zero values of Duration, Rounds,
// Conns, ManyConns and Threads take the defaults of cmd/benchcompare.
type Options struct {
	Duration  time.Duration // per wrk run; default 5s
	Rounds    int           // runs per target and workload, median reported; default 3
	Conns     int           // wrk connections; default 32
	ManyConns int           // connections of the ManyConns workload; default 1000
	Threads   int           // wrk threads; default 2
	Workloads []Workload    // default Workloads
	// ProxyBin is the cobrowse-proxy binary to measure; "" builds
	// ./cmd/cobrowse-proxy of the module at RepoDir into a temp directory.
	ProxyBin string
	RepoDir  string
	// Install lets the harness apt-get install nginx-light and wrk when
	// they are missing (only as root).
	Install bool
	Log     io.Writer // progress; nil discards
}

func (o *Options) defaults() {
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Rounds <= 0 {
		o.Rounds = 3
	}
	if o.Conns <= 0 {
		o.Conns = 32
	}
	if o.ManyConns <= 0 {
		o.ManyConns = 1000
	}
	if o.Threads <= 0 {
		o.Threads = 2
	}
	if len(o.Workloads) == 0 {
		o.Workloads = Workloads
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// endpoint is one target as the harness loads it: the address wrk
// connects to and the upstream port that target alone uses.
type endpoint struct {
	target       Target
	addr         string
	upstreamPort int
}

// Run starts the upstream and every target, checks that each answers
// every workload correctly, measures them, and stops everything it
// started before returning (also when ctx is cancelled, e.g. on Ctrl-C).
func Run(ctx context.Context, o Options) (rep Report, err error) {
	o.defaults()
	log := o.Log
	nginxBin, err := ensureTool(ctx, "nginx", "nginx-light", o.Install, log)
	if err != nil {
		return rep, err
	}
	wrkBin, err := ensureTool(ctx, "wrk", "wrk", o.Install, log)
	if err != nil {
		return rep, err
	}
	tmp, err := os.MkdirTemp("", "bench-compare-")
	if err != nil {
		return rep, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	proxyBin := o.ProxyBin
	if proxyBin == "" {
		proxyBin = filepath.Join(tmp, "cobrowse-proxy")
		fmt.Fprintf(log, "building cobrowse-proxy from %s\n", o.RepoDir)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", proxyBin, "./cmd/cobrowse-proxy")
		cmd.Dir = o.RepoDir
		if out, err := cmd.CombinedOutput(); err != nil {
			return rep, fmt.Errorf("go build ./cmd/cobrowse-proxy in %s: %w\n%s", o.RepoDir, err, out)
		}
	}

	// One upstream handler on four ports, one per target, so TIME_WAIT
	// sockets to a port belong to one target.
	up, err := NewUpstream()
	if err != nil {
		return rep, err
	}
	upSrv := &http.Server{Handler: up, ReadHeaderTimeout: 10 * time.Second, ErrorLog: stdlog.New(io.Discard, "", 0)}
	defer upSrv.Close()
	upPorts := map[Target]int{}
	upAddrs := map[Target]string{}
	for _, t := range Targets {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return rep, fmt.Errorf("upstream listener: %w", err)
		}
		go func() { _ = upSrv.Serve(l) }()
		upAddrs[t] = l.Addr().String()
		upPorts[t] = l.Addr().(*net.TCPAddr).Port
	}

	// The bare ReverseProxy, with every default: what "a Go reverse proxy"
	// costs before any of our work.
	bareURL := &url.URL{Scheme: "http", Host: upAddrs[Bare]}
	bareL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return rep, fmt.Errorf("bare proxy listener: %w", err)
	}
	// Its errors (a client that hung up at the end of a wrk run) would
	// bury the progress lines: discarded, as for the upstream.
	quiet := stdlog.New(io.Discard, "", 0)
	bareSrv := &http.Server{
		Handler: &httputil.ReverseProxy{
			Rewrite:  func(r *httputil.ProxyRequest) { r.SetURL(bareURL) },
			ErrorLog: quiet,
		},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          quiet,
	}
	defer bareSrv.Close()
	go func() { _ = bareSrv.Serve(bareL) }()

	// The pooled ReverseProxy: bare with an upstream pool as large as the
	// load (cobrowse-proxy's default), its read buffer and no compression
	// of its own: the floor of a proxy on net/http that injects nothing.
	pooledURL := &url.URL{Scheme: "http", Host: upAddrs[Pooled]}
	pooledL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return rep, fmt.Errorf("pooled proxy listener: %w", err)
	}
	pooledTr := &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second, DisableCompression: true, ReadBufferSize: 16 << 10}
	defer pooledTr.CloseIdleConnections()
	pooledSrv := &http.Server{
		Handler: &httputil.ReverseProxy{
			Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(pooledURL) },
			Transport: pooledTr,
			ErrorLog:  quiet,
		},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          quiet,
	}
	defer pooledSrv.Close()
	go func() { _ = pooledSrv.Serve(pooledL) }()

	// nginx.
	nginxDir := filepath.Join(tmp, "nginx")
	if err := os.MkdirAll(filepath.Join(nginxDir, "logs"), 0o755); err != nil {
		return rep, fmt.Errorf("nginx prefix: %w", err)
	}
	nginxAddr, err := freeAddr()
	if err != nil {
		return rep, err
	}
	nginxConf := filepath.Join(nginxDir, "nginx.conf")
	if err := os.WriteFile(nginxConf, []byte(NginxConfig(nginxDir, nginxAddr, upAddrs[Nginx], os.Geteuid() == 0)), 0o644); err != nil {
		return rep, fmt.Errorf("nginx config: %w", err)
	}
	ngx, err := startProc("nginx", filepath.Join(tmp, "nginx.out"), nginxBin,
		"-p", nginxDir+"/", "-e", filepath.Join(nginxDir, "error.log"), "-c", nginxConf)
	if err != nil {
		return rep, err
	}
	defer ngx.stop(5 * time.Second)
	if err := waitHTTP(ctx, ngx, "http://"+nginxAddr+PathHTML10K, http.StatusOK, 20*time.Second); err != nil {
		b, _ := os.ReadFile(filepath.Join(nginxDir, "error.log"))
		return rep, fmt.Errorf("%w\nnginx error.log:\n%s", err, b)
	}

	// cobrowse-proxy.
	proxyAddr, err := freeAddr()
	if err != nil {
		return rep, err
	}
	adminAddr, err := freeAddr()
	if err != nil {
		return rep, err
	}
	proxyDir := filepath.Join(tmp, "proxy")
	if err := os.MkdirAll(proxyDir, 0o700); err != nil {
		return rep, fmt.Errorf("proxy config dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(proxyDir, "sdk-secret.txt"), []byte(dummySDKSecret+"\n"), 0o600); err != nil {
		return rep, fmt.Errorf("proxy secret: %w", err)
	}
	proxyConf := filepath.Join(proxyDir, "config.yaml")
	if err := os.WriteFile(proxyConf, []byte(ProxyConfig(proxyAddr, adminAddr, "http://"+upAddrs[Proxy], "sdk-secret.txt")), 0o600); err != nil {
		return rep, fmt.Errorf("proxy config: %w", err)
	}
	px, err := startProc("cobrowse-proxy", filepath.Join(tmp, "proxy.out"), proxyBin, "run", "-config", proxyConf)
	if err != nil {
		return rep, err
	}
	defer px.stop(10 * time.Second)
	if err := waitHTTP(ctx, px, "http://"+adminAddr+"/readyz", http.StatusOK, 30*time.Second); err != nil {
		return rep, err
	}

	eps := []endpoint{
		{Direct, upAddrs[Direct], upPorts[Direct]},
		{Bare, bareL.Addr().String(), upPorts[Bare]},
		{Pooled, pooledL.Addr().String(), upPorts[Pooled]},
		{Nginx, nginxAddr, upPorts[Nginx]},
		{Proxy, proxyAddr, upPorts[Proxy]},
	}

	// A target that does not do its job would look fast: check one
	// response of each before any load.
	for _, w := range o.Workloads {
		for _, ep := range eps {
			if err := checkTarget(ctx, ep, w, up.Body(w.Path)); err != nil {
				return rep, fmt.Errorf("harness error: %w", err)
			}
		}
	}

	rep.Header = machineHeader(ctx, o, nginxBin, wrkBin, proxyBin)
	rep.TimeWait = map[Target]int{}
	for _, w := range o.Workloads {
		conns := o.Conns
		if w.ManyConns {
			conns = o.ManyConns
			rep.ManyConnsWorkload = w.Name
		}
		runs := map[Target][]WrkResult{}
		for round := 1; round <= o.Rounds; round++ {
			for _, ep := range eps {
				res, err := runWrk(ctx, wrkBin, o, conns, w, ep.addr)
				if err != nil {
					return rep, fmt.Errorf("%s, %s, round %d: %w", w.Name, ep.target, round, err)
				}
				fmt.Fprintf(log, "%-16s %-7s round %d: %9.0f req/s  p50 %-9s p99 %-9s errors %d\n",
					w.Name, ep.target, round, res.ReqPerSec, FormatLatency(res.P50), FormatLatency(res.P99), res.Errors())
				runs[ep.target] = append(runs[ep.target], res)
				if w.ManyConns {
					n, err := TimeWait(ep.upstreamPort)
					if err != nil {
						return rep, err
					}
					rep.TimeWait[ep.target] = max(rep.TimeWait[ep.target], n)
				}
			}
		}
		row := Row{Workload: w.Name, Stats: map[Target]Stat{}}
		for t, rs := range runs {
			row.Stats[t] = Median(rs)
		}
		rep.Rows = append(rep.Rows, row)
	}
	if len(rep.TimeWait) == 0 {
		rep.TimeWait = nil
	}
	if rss, err := PeakRSS(px.pid()); err == nil {
		rep.ProxyPeakRSS = rss
	} else {
		rep.Notes = append(rep.Notes, "peak RSS unknown: "+err.Error())
	}
	rep.Notes = append(rep.Notes, workloadNotes(o)...)
	return rep, nil
}

// runWrk runs one wrk load and parses its output.
func runWrk(ctx context.Context, wrkBin string, o Options, conns int, w Workload, addr string) (WrkResult, error) {
	secs := max(1, int(o.Duration.Round(time.Second)/time.Second))
	args := []string{
		"-t", strconv.Itoa(min(o.Threads, conns)), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(secs) + "s", "--timeout", "10s", "--latency",
	}
	for _, h := range w.headers() {
		args = append(args, "-H", h[0]+": "+h[1])
	}
	args = append(args, "http://"+addr+w.Path)
	cmd := exec.CommandContext(ctx, wrkBin, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return WrkResult{}, ctx.Err()
		}
		return WrkResult{}, fmt.Errorf("wrk %s: %w\n%s%s", strings.Join(args, " "), err, out.String(), stderr.String())
	}
	return ParseWrk(out.String())
}

// checkTarget fetches w's page once through ep and checks the answer:
// the upstream's bytes from direct and bare, and from everyone for the
// binary; the whole page plus the loader from the proxy and nginx.
func checkTarget(ctx context.Context, ep endpoint, w Workload, want []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ep.addr+w.Path, nil)
	if err != nil {
		return err
	}
	for _, h := range w.headers() {
		req.Header.Set(h[0], h[1])
	}
	// DisableCompression: the body is read as the target sent it.
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", ep.target, w.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", ep.target, w.Name, err)
	}
	return CheckResponse(ep.target, w, resp.StatusCode, resp.Header.Get("Content-Encoding"), body, want)
}

// CheckResponse is checkTarget's verdict on one response: status 200; the
// Content-Encoding the workload asked for (none from nginx, which asks
// its upstream for identity), so that a target answering uncompressed
// does not skip the work being measured; a compressed body is decoded
// first; the binary and the answers of direct and bare are the upstream's
// bytes; the proxy's and nginx's HTML pages have their loader and are at
// least as long as the upstream's page.
func CheckResponse(t Target, w Workload, status int, contentEncoding string, body, want []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("%s %s: status %d, want 200", t, w.Name, status)
	}
	wantCoding := w.Coding
	switch {
	case t == Nginx || w.Binary:
		wantCoding = ""
	case t == Proxy && w.ProxyCoding != "":
		wantCoding = w.ProxyCoding
	}
	if contentEncoding == "identity" {
		contentEncoding = ""
	}
	if contentEncoding != wantCoding {
		return fmt.Errorf("%s %s: Content-Encoding %q, want %q", t, w.Name, contentEncoding, wantCoding)
	}
	if contentEncoding != "" {
		var err error
		if body, err = Decompress(contentEncoding, body); err != nil {
			return fmt.Errorf("%s %s: %s body: %w", t, w.Name, contentEncoding, err)
		}
	}
	inject := !w.Binary && (t == Proxy || t == Nginx)
	if !inject {
		if !bytes.Equal(body, want) {
			return fmt.Errorf("%s %s: body of %d bytes differs from the upstream's %d bytes", t, w.Name, len(body), len(want))
		}
		return nil
	}
	marker := ProxyLoaderMarker
	if t == Nginx {
		marker = NginxLoaderTag
	}
	if !bytes.Contains(body, []byte(marker)) {
		return fmt.Errorf("%s %s: the page has no loader (%s): the target does not inject", t, w.Name, marker)
	}
	if len(body) < len(want) || !bytes.HasSuffix(body, want[len(want)-min(64, len(want)):]) {
		return fmt.Errorf("%s %s: page of %d bytes is not the whole upstream page (%d bytes)", t, w.Name, len(body), len(want))
	}
	return nil
}

// machineHeader is the context a reader needs to judge the numbers.
func machineHeader(ctx context.Context, o Options, nginxBin, wrkBin, proxyBin string) []string {
	ver := func(bin string, args ...string) string {
		out, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	names := make([]string, len(o.Workloads))
	for i, w := range o.Workloads {
		names[i] = w.Name
	}
	return []string{
		fmt.Sprintf("- date: %s", time.Now().UTC().Format("2006-01-02 15:04 MST")),
		fmt.Sprintf("- machine: %d CPUs (nproc), %s; load generator and all servers share them", runtime.NumCPU(), cpuModel()),
		fmt.Sprintf("- cobrowse-proxy: %s (%s)", proxyBin, ver(proxyBin, "version")),
		fmt.Sprintf("- nginx: %s; wrk: %s; Go: %s", ver(nginxBin, "-v"), ver(wrkBin, "-v"), runtime.Version()),
		fmt.Sprintf("- wrk: %d threads, %d connections (%d for html-100k-c1000), %s per run, median of %d interleaved rounds",
			o.Threads, o.Conns, o.ManyConns, o.Duration, o.Rounds),
		fmt.Sprintf("- workloads: %s", strings.Join(names, ", ")),
	}
}

func workloadNotes(o Options) []string {
	return []string{
		"Targets: direct = the Go upstream itself; bare = httputil.ReverseProxy with its defaults (its Transport keeps 2 idle connections per host); " +
			"pooled = httputil.ReverseProxy with 1024 idle upstream connections, a 16 KiB read buffer and no compression of its own (the floor of a net/http proxy that injects nothing); " +
			"nginx = nginx with sub_filter '<head>' and proxy_set_header Accept-Encoding \"\" (keepalive 64 to the upstream); proxy = cobrowse-proxy injecting its loader.",
		"gzip-*, br-*, zstd-*: the client sends Accept-Encoding: gzip, br or zstd and, as a browser navigating, Sec-Fetch-Dest: document and Accept: text/html,…; direct, bare and pooled get the page the upstream pre-compressed in that coding; " +
			"cobrowse-proxy asks the upstream for the page plain once it has seen it compress, and compresses it once after injecting (proxy.upstreamPlain); " +
			"gzip-100k-script sends no navigation headers: the proxy gets the gzip page, decodes, injects and encodes it again. " +
			"nginx cannot rewrite a compressed body, so it asks for identity and sends the page uncompressed. " +
			"br-100k-browser: the client sends Safari's Accept-Encoding: gzip, deflate, br; the upstream sends br, and cobrowse-proxy answers gzip (it re-encodes br in the cheapest coding the client accepts as much).",
		fmt.Sprintf("binary-1m: a 1 MB application/octet-stream body, passed through by every target. html-100k-c1000: the 100 KB page with %d connections.", o.ManyConns),
	}
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// FindRepoDir walks up from dir to the directory holding go.mod.
func FindRepoDir(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("no go.mod above " + dir)
		}
		d = parent
	}
}
