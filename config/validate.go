package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/andybalholm/cascadia"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
)

var (
	siteNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	attrNameRE   = regexp.MustCompile(`^[A-Za-z_:][-A-Za-z0-9_.:]*$`)
	sdkVersionRE = regexp.MustCompile(`^\d+\.\d+\.(\d+|x)$`)
	prefixRE     = regexp.MustCompile(`^[A-Za-z0-9._~/-]+$`)
	hostLabelRE  = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$`)
	cookieNameRE = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
)

// Validate checks c, which should already have had ApplyDefaults, and
// returns every problem found as Errors, or nil. It reads no secret: *File
// keys are read by Parse, so a Config built in code sets SDKKey,
// SDKSecret and Token.Agent.SessionKey directly. It does check that TLS files exist and are readable.
func (c *Config) Validate() error {
	var es Errors
	c.validateListen(&es)
	c.validateTLS(&es)
	c.validateServer(&es)
	c.validateProxy(&es)
	c.validateLog(&es)
	c.validateZoom(&es)
	c.validateToken(&es)
	validateMasking(&es, "masking", c.Masking.Selectors, c.Masking.Attributes)
	if r := c.Masking.Audit.SampleRate; r != nil && !(*r >= 0 && *r <= 1) {
		es.add("masking.audit.sampleRate", fmt.Sprint(*r), "must be between 0 and 1 (1: audit every page view; 0.1: one in ten)")
	}
	c.validateStorage(&es)
	c.validateSites(&es)
	return es.err()
}

func (c *Config) validateListen(es *Errors) {
	addrs := []struct{ path, addr string }{
		{"listen.http", c.Listen.HTTP},
		{"listen.https", c.Listen.HTTPS},
		{"listen.admin", c.Listen.Admin},
	}
	used := map[string]string{}
	for _, a := range addrs {
		if !checkListen(es, a.path, a.addr) {
			continue
		}
		// HTTPS is not opened with tls.mode off, so it cannot clash; port 0
		// asks the kernel for a free port and never clashes either.
		if _, port, _ := net.SplitHostPort(a.addr); port == "0" || (a.path == "listen.https" && c.TLS.Mode == TLSModeOff) {
			continue
		}
		if prev, ok := used[a.addr]; ok {
			es.add(a.path, a.addr, "is already used by %s; each listener needs its own address", prev)
			continue
		}
		used[a.addr] = a.path
	}
}

func checkListen(es *Errors, p, addr string) bool {
	if addr == "" {
		es.add(p, "", "is required, e.g. \":8080\" or \"127.0.0.1:8080\"")
		return false
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		es.add(p, addr, "must be host:port, e.g. \":8080\" or \"127.0.0.1:8080\"")
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		es.add(p, addr, "must have a numeric port 0..65535")
		return false
	}
	return true
}

// checkReadable reports a path that is empty, missing, not a regular file
// or not readable. It never reads the content, so secrets stay out of
// messages. Stat comes first so that a FIFO or device is refused rather
// than blocking open.
func checkReadable(es *Errors, p, file, what string) {
	if file == "" {
		es.add(p, "", "is required when tls.mode is files: the path to %s", what)
		return
	}
	if err := regularFile(file); err != nil {
		es.add(p, file, "%v", err)
		return
	}
	f, err := os.Open(file)
	if err != nil {
		es.add(p, file, "cannot be read: %v", unwrapPathErr(err))
		return
	}
	f.Close()
}

func regularFile(file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("cannot be read: %v", unwrapPathErr(err))
	}
	if !fi.Mode().IsRegular() {
		return errors.New("is not a regular file")
	}
	return nil
}

// unwrapPathErr drops the path from an *fs.PathError, since the path is
// already the quoted value of the FieldError.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (c *Config) validateServer(es *Errors) {
	s := c.Server
	positive(es, "server.readHeaderTimeout", s.ReadHeaderTimeout)
	nonNegative(es, "server.readTimeout", s.ReadTimeout)
	nonNegative(es, "server.writeTimeout", s.WriteTimeout)
	positive(es, "server.idleTimeout", s.IdleTimeout)
	positive(es, "server.shutdownGrace", s.ShutdownGrace)
	if s.DrainDelay < 0 || s.DrainDelay > 5*time.Minute {
		es.add("server.drainDelay", s.DrainDelay.String(), "must be between 0s and 5m (e.g. 5s behind a Kubernetes Service)")
	}
	if s.MaxHeaderBytes < MinMaxHeaderBytes || s.MaxHeaderBytes > MaxMaxHeaderBytes {
		es.add("server.maxHeaderBytes", strconv.Itoa(s.MaxHeaderBytes), "must be between %d and %d bytes (default %d): each connection may hold this much while its headers arrive",
			MinMaxHeaderBytes, MaxMaxHeaderBytes, DefaultMaxHeaderBytes)
	}
	if s.MaxConnsPerClient < -1 {
		es.add("server.maxConnsPerClient", strconv.Itoa(s.MaxConnsPerClient), "must be a positive number of connections, or -1 for no limit (default %d)", DefaultMaxConnsPerClient)
	}
	validateCompression(es, s.Compression)
}

// validateCompression checks the levels against the ranges
// encoding.Options.Validate accepts (TestCompressionRangesMatchEncoding
// keeps the two in step), naming the key and the default.
func validateCompression(es *Errors, c Compression) {
	for _, l := range []struct {
		path       string
		v, hi, def int
	}{
		{"server.compression.gzipLevel", c.GzipLevel, 9, encoding.DefaultGzipLevel},
		{"server.compression.brotliQuality", c.BrotliQuality, 11, encoding.DefaultBrotliQuality},
		{"server.compression.zstdLevel", c.ZstdLevel, 22, encoding.DefaultZstdLevel},
	} {
		if l.v < 0 || l.v > l.hi {
			es.add(l.path, strconv.Itoa(l.v), "must be 1 (fastest) to %d (smallest), or 0 for the default (%d)", l.hi, l.def)
		}
	}
}

func positive(es *Errors, p string, d time.Duration) {
	if d <= 0 {
		es.add(p, d.String(), "must be a positive duration such as 10s")
	}
}

func nonNegative(es *Errors, p string, d time.Duration) {
	if d < 0 {
		es.add(p, d.String(), "must not be negative; 0s means no limit")
	}
}

func (c *Config) validateProxy(es *Errors) {
	p := c.Proxy
	for i, s := range p.TrustedProxies {
		fp := fmt.Sprintf("proxy.trustedProxies[%d]", i)
		if strings.Contains(s, "%") {
			es.add(fp, s, "must not have an IPv6 zone")
		} else if _, ok := parseTrusted(s); !ok {
			es.add(fp, s, "must be an IP address or CIDR prefix, e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32")
		}
	}
	positive(es, "proxy.dialTimeout", p.DialTimeout)
	positive(es, "proxy.tlsHandshakeTimeout", p.TLSHandshakeTimeout)
	positive(es, "proxy.responseHeaderTimeout", p.ResponseHeaderTimeout)
	positive(es, "proxy.upstreamIdleTimeout", p.UpstreamIdleTimeout)
	positive(es, "proxy.idleConnTimeout", p.IdleConnTimeout)
	if p.MaxIdleConnsPerHost <= 0 {
		es.add("proxy.maxIdleConnsPerHost", strconv.Itoa(p.MaxIdleConnsPerHost), "must be positive (default %d)", DefaultMaxIdleConnsPerHost)
	}
	if p.UnknownHostStatus != 421 && p.UnknownHostStatus != 404 {
		es.add("proxy.unknownHostStatus", strconv.Itoa(p.UnknownHostStatus), "must be 421 or 404")
	}
	if p.MaxScanBytes < 1024 || p.MaxScanBytes > 16<<20 {
		es.add("proxy.maxScanBytes", strconv.Itoa(p.MaxScanBytes), "must be between 1024 and 16777216 (16 MiB); default %d", DefaultMaxScanBytes)
	}
}

func (c *Config) validateLog(es *Errors) {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		es.add("log.level", c.Log.Level, "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		es.add("log.format", c.Log.Format, "must be text or json")
	}
}

func (c *Config) validateZoom(es *Errors) {
	z := c.Zoom
	switch {
	case z.SDKKey != "" && z.SDKKeyFile != "" && !z.keyFromFile:
		es.add("zoom.sdkKeyFile", "", "set only one of zoom.sdkKey and zoom.sdkKeyFile")
	case z.SDKKey == "" && z.SDKKeyFile != "":
		es.add("zoom.sdkKeyFile", z.SDKKeyFile, "has not been read: Load and Parse read *File keys")
	case z.SDKKey == "":
		es.add("zoom.sdkKey", "", "is required: set zoom.sdkKey, e.g. sdkKey: ${ZOOM_SDK_KEY}, or zoom.sdkKeyFile")
	case strings.IndexFunc(z.SDKKey, unicode.IsSpace) >= 0 || hasControl(z.SDKKey):
		es.add("zoom.sdkKey", "", "must not contain spaces or control characters (check for a stray newline)")
	}
	switch {
	case z.SDKSecret != "" && z.SDKSecretFile != "" && !z.secretFromFile:
		es.add("zoom.sdkSecretFile", "", "set only one of zoom.sdkSecret and zoom.sdkSecretFile")
	case z.SDKSecret == "" && z.SDKSecretFile != "":
		es.add("zoom.sdkSecretFile", z.SDKSecretFile, "has not been read: Load and Parse read *File keys")
	case hasControl(z.SDKSecret):
		// The value is deliberately not shown: it is the signing secret.
		es.add("zoom.sdkSecret", "", "must not contain control characters (check for a stray newline)")
	case z.SDKSecret != "" && len(z.SDKSecret) < MinSDKSecretLen:
		// A short secret is a truncated copy, or one that can be guessed
		// offline from any token it signed.
		p, v := "zoom.sdkSecret", ""
		if z.secretFromFile {
			p, v = "zoom.sdkSecretFile", z.SDKSecretFile
		}
		es.add(p, v, "holds a %d-byte secret; an SDK secret has at least %d (Zoom's are 32 characters): copy the whole SDK secret from the Zoom app's credentials", len(z.SDKSecret), MinSDKSecretLen)
	}
	validateCDN(es, z.CDN)
	if z.SDKVersion != "" && !sdkVersionRE.MatchString(z.SDKVersion) {
		es.add("zoom.sdkVersion", z.SDKVersion, "must be empty (latest), an exact version such as 3.6.0, or a patch range such as 3.6.x")
	}
}

func validateCDN(es *Errors, cdn string) {
	const p = "zoom.cdn"
	u, err := url.Parse(cdn)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		es.add(p, cdn, "must be an https URL such as %s", DefaultCDN)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		es.add(p, cdn, "must use https; http is allowed only for loopback hosts (localhost, 127.0.0.1, ::1)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(cdn, "#"):
		es.add(p, cdn, "must not have a query or fragment")
	case u.User != nil:
		es.add(p, cdn, "must not contain user:password@")
	}
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func validateMasking(es *Errors, p string, selectors, attributes []string) {
	for i, s := range selectors {
		if _, err := cascadia.ParseGroup(s); err != nil {
			es.add(joinPath(p, fmt.Sprintf("selectors[%d]", i)), s, "is not a valid CSS selector: %v", err)
		}
	}
	for i, a := range attributes {
		fp := joinPath(p, fmt.Sprintf("attributes[%d]", i))
		name, value, hasValue := strings.Cut(a, "=")
		switch {
		case !attrNameRE.MatchString(name):
			es.add(fp, a, "must be an attribute name or name=value, e.g. data-sensitive or data-pii=true")
		case hasValue && value == "":
			es.add(fp, a, "has an empty value after =; write just the name to match any value")
		case hasControl(value):
			es.add(fp, a, "must not contain control characters")
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
