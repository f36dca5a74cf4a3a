package benchcompare

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WrkResult is what the harness keeps of one wrk run.
type WrkResult struct {
	Requests  int64         // requests completed
	ReqPerSec float64       // "Requests/sec:"
	P50, P99  time.Duration // from the --latency distribution
	Non2xx    int64         // "Non-2xx or 3xx responses:"
	SocketErr int64         // sum of "Socket errors:" connect, read, write, timeout
}

// Errors is the number of failed requests and socket errors of the run: a
// target that answers errors fast must not look fast.
func (r WrkResult) Errors() int64 { return r.Non2xx + r.SocketErr }

// ParseWrk reads the text wrk prints with --latency. Requests/sec and the
// 50% and 99% lines are required: output without them (wrk failed to
// connect, or ran without --latency) is an error rather than zeros.
func ParseWrk(out string) (WrkResult, error) {
	var r WrkResult
	var haveRPS, have50, have99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Requests/sec:") && len(f) == 2:
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk Requests/sec %q: %w", f[1], err)
			}
			r.ReqPerSec, haveRPS = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, fmt.Errorf("wrk latency %s: %w", f[0], err)
			}
			if f[0] == "50%" {
				r.P50, have50 = d, true
			} else {
				r.P99, have99 = d, true
			}
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:") && len(f) == 5:
			v, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk non-2xx count %q: %w", f[4], err)
			}
			r.Non2xx = v
		case strings.HasPrefix(line, "Socket errors:"):
			// Socket errors: connect 0, read 0, write 0, timeout 12
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if err != nil {
					return r, fmt.Errorf("wrk socket errors %q: %w", line, err)
				}
				r.SocketErr += v
			}
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			v, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk request count %q: %w", f[0], err)
			}
			r.Requests = v
		}
	}
	if !haveRPS || !have50 || !have99 {
		return r, fmt.Errorf("wrk output has no Requests/sec or 50%%/99%% latency lines (run with --latency): %q", truncate(out, 400))
	}
	return r, nil
}

// parseWrkDuration reads wrk's latency units: us, ms, s, m and h
// (wrk's format_time), e.g. "812.00us", "1.23ms", "2.00s".
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		d      time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("bad duration %q", s)
			}
			return time.Duration(v * float64(u.d)), nil
		}
	}
	return 0, fmt.Errorf("bad duration %q: want a number with us, ms, s, m or h", s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
