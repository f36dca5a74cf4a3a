package benchcompare

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Target is one server under load; Targets is their order in the table.
type Target string

const (
	Direct Target = "direct" // the upstream itself
	Bare   Target = "bare"   // httputil.ReverseProxy with its defaults
	// Pooled is httputil.ReverseProxy with its upstream pool sized to the
	// load and nothing else to do: about the most a proxy built on
	// net/http can serve, injecting nothing.
	Pooled Target = "pooled"
	Nginx  Target = "nginx" // nginx with sub_filter
	Proxy  Target = "proxy" // cobrowse-proxy
)

// Targets lists every target, in table order.
var Targets = []Target{Direct, Bare, Pooled, Nginx, Proxy}

// Stat is the median over rounds of one target under one workload.
type Stat struct {
	ReqPerSec float64
	P50, P99  time.Duration
	Errors    int64 // summed over rounds: non-2xx responses and socket errors
	Rounds    int
}

// Median reduces rounds to their median req/s, p50 and p99 (each taken
// on its own) and the sum of their errors. It returns the zero Stat for
// no rounds.
func Median(rounds []WrkResult) Stat {
	if len(rounds) == 0 {
		return Stat{}
	}
	rps := make([]float64, len(rounds))
	p50 := make([]time.Duration, len(rounds))
	p99 := make([]time.Duration, len(rounds))
	var errs int64
	for i, r := range rounds {
		rps[i], p50[i], p99[i] = r.ReqPerSec, r.P50, r.P99
		errs += r.Errors()
	}
	return Stat{ReqPerSec: median(rps), P50: median(p50), P99: median(p99), Errors: errs, Rounds: len(rounds)}
}

// median of an even count is the mean of the middle two.
func median[T ~int64 | ~float64](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Row is one workload's line of the table; Stats is keyed by target
// (a missing target has the zero Stat and shows as "-").
type Row struct {
	Workload string
	Stats    map[Target]Stat
}

// Report is everything one run prints.
type Report struct {
	Rows []Row
	// ProxyPeakRSS is cobrowse-proxy's VmHWM at the end of the run, in
	// bytes; 0 if unknown.
	ProxyPeakRSS int64
	// TimeWait is, per target, the largest count of TIME_WAIT sockets to
	// its own upstream port seen right after its runs of ManyConnsWorkload.
	TimeWait          map[Target]int
	ManyConnsWorkload string
	// Header lines printed above the table (machine, settings), as is.
	Header []string
	// Notes printed below the table, as is.
	Notes []string
}

// WriteMarkdown prints the report as a markdown table: req/s and p50/p99
// per target, then the ratios of cobrowse-proxy's req/s to nginx's and to
// the bare ReverseProxy's. A cell whose runs had errors is marked with
// "(N errors)": a target that fails fast must not look fast.
func (rep Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	for _, h := range rep.Header {
		b.WriteString(h)
		b.WriteString("\n")
	}
	if len(rep.Header) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("| workload |")
	for _, t := range Targets {
		fmt.Fprintf(&b, " %s req/s | %s p50/p99 |", t, t)
	}
	b.WriteString(" proxy/nginx | proxy/bare | proxy/pooled |\n|---|")
	for range Targets {
		b.WriteString("---:|---:|")
	}
	b.WriteString("---:|---:|---:|\n")
	for _, r := range rep.Rows {
		fmt.Fprintf(&b, "| %s |", r.Workload)
		for _, t := range Targets {
			s, ok := r.Stats[t]
			if !ok || s.Rounds == 0 {
				b.WriteString(" - | - |")
				continue
			}
			fmt.Fprintf(&b, " %s", FormatRate(s.ReqPerSec))
			if s.Errors > 0 {
				fmt.Fprintf(&b, " (%d errors)", s.Errors)
			}
			fmt.Fprintf(&b, " | %s / %s |", FormatLatency(s.P50), FormatLatency(s.P99))
		}
		fmt.Fprintf(&b, " %s | %s | %s |\n", ratio(r.Stats, Proxy, Nginx), ratio(r.Stats, Proxy, Bare), ratio(r.Stats, Proxy, Pooled))
	}
	if rep.ProxyPeakRSS > 0 || len(rep.TimeWait) > 0 {
		b.WriteString("\n")
	}
	if rep.ProxyPeakRSS > 0 {
		fmt.Fprintf(&b, "cobrowse-proxy peak RSS (VmHWM, whole run): %.1f MiB\n", float64(rep.ProxyPeakRSS)/(1<<20))
	}
	if len(rep.TimeWait) > 0 {
		fmt.Fprintf(&b, "\nTIME_WAIT sockets to each target's upstream port right after %s:", rep.ManyConnsWorkload)
		for _, t := range Targets {
			if n, ok := rep.TimeWait[t]; ok {
				fmt.Fprintf(&b, " %s %d;", t, n)
			}
		}
		b.WriteString("\n")
	}
	if len(rep.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range rep.Notes {
			b.WriteString(n)
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ratio is a/b of two targets' req/s, "-" when either is missing.
func ratio(s map[Target]Stat, a, b Target) string {
	x, y := s[a], s[b]
	if x.Rounds == 0 || y.Rounds == 0 || y.ReqPerSec == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", x.ReqPerSec/y.ReqPerSec)
}

// FormatRate prints req/s as a whole number with thousands separators.
func FormatRate(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// FormatLatency prints a latency in milliseconds with about three
// significant digits.
func FormatLatency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.0f ms", ms)
	}
}
