package benchcompare

import (
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		in   []WrkResult
		want Stat
	}{
		{"none", nil, Stat{}},
		{"one", []WrkResult{{ReqPerSec: 10, P50: ms, P99: 2 * ms, Non2xx: 1}},
			Stat{ReqPerSec: 10, P50: ms, P99: 2 * ms, Errors: 1, Rounds: 1}},
		{"odd: each column on its own", []WrkResult{
			{ReqPerSec: 300, P50: 9 * ms, P99: 1 * ms},
			{ReqPerSec: 100, P50: 1 * ms, P99: 30 * ms, SocketErr: 2},
			{ReqPerSec: 200, P50: 5 * ms, P99: 20 * ms},
		}, Stat{ReqPerSec: 200, P50: 5 * ms, P99: 20 * ms, Errors: 2, Rounds: 3}},
		{"even: mean of the middle two", []WrkResult{
			{ReqPerSec: 100, P50: 2 * ms, P99: 10 * ms},
			{ReqPerSec: 400, P50: 8 * ms, P99: 40 * ms},
			{ReqPerSec: 200, P50: 4 * ms, P99: 20 * ms},
			{ReqPerSec: 300, P50: 6 * ms, P99: 30 * ms},
		}, Stat{ReqPerSec: 250, P50: 5 * ms, P99: 25 * ms, Rounds: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Median(tt.in); got != tt.want {
				t.Errorf("Median = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	rates := []struct {
		in   float64
		want string
	}{{0, "0"}, {999.4, "999"}, {999.5, "1,000"}, {20382, "20,382"}, {1234567.8, "1,234,568"}}
	for _, r := range rates {
		if got := FormatRate(r.in); got != r.want {
			t.Errorf("FormatRate(%v) = %q, want %q", r.in, got, r.want)
		}
	}
	lats := []struct {
		in   time.Duration
		want string
	}{
		{812 * time.Microsecond, "0.81 ms"},
		{9990 * time.Microsecond, "9.99 ms"},
		{12345 * time.Microsecond, "12.3 ms"},
		{416 * time.Millisecond, "416 ms"},
		{3 * time.Second, "3000 ms"},
	}
	for _, l := range lats {
		if got := FormatLatency(l.in); got != l.want {
			t.Errorf("FormatLatency(%v) = %q, want %q", l.in, got, l.want)
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	ms := time.Millisecond
	rep := Report{
		Header: []string{"- machine: test"},
		Rows: []Row{
			{Workload: "html-10k", Stats: map[Target]Stat{
				Direct: {ReqPerSec: 20000, P50: ms, P99: 3 * ms, Rounds: 3},
				Bare:   {ReqPerSec: 8000, P50: 2 * ms, P99: 9 * ms, Rounds: 3},
				Pooled: {ReqPerSec: 10000, P50: 2 * ms, P99: 8 * ms, Rounds: 3},
				Nginx:  {ReqPerSec: 16000, P50: ms, P99: 4 * ms, Rounds: 3},
				Proxy:  {ReqPerSec: 8000, P50: 3 * ms, P99: 12 * ms, Errors: 4, Rounds: 3},
			}},
			{Workload: "binary-1m", Stats: map[Target]Stat{
				Direct: {ReqPerSec: 1800, P50: 15 * ms, P99: 40 * ms, Rounds: 1},
				Proxy:  {ReqPerSec: 1700, P50: 16 * ms, P99: 45 * ms, Rounds: 1},
			}},
		},
		ProxyPeakRSS:      50 << 20,
		TimeWait:          map[Target]int{Direct: 3, Proxy: 12},
		ManyConnsWorkload: "html-100k-c1000",
		Notes:             []string{"a note"},
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	want := `- machine: test

| workload | direct req/s | direct p50/p99 | bare req/s | bare p50/p99 | pooled req/s | pooled p50/p99 | nginx req/s | nginx p50/p99 | proxy req/s | proxy p50/p99 | proxy/nginx | proxy/bare | proxy/pooled |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| html-10k | 20,000 | 1.00 ms / 3.00 ms | 8,000 | 2.00 ms / 9.00 ms | 10,000 | 2.00 ms / 8.00 ms | 16,000 | 1.00 ms / 4.00 ms | 8,000 (4 errors) | 3.00 ms / 12.0 ms | 0.50 | 1.00 | 0.80 |
| binary-1m | 1,800 | 15.0 ms / 40.0 ms | - | - | - | - | - | - | 1,700 | 16.0 ms / 45.0 ms | - | - | - |

cobrowse-proxy peak RSS (VmHWM, whole run): 50.0 MiB

TIME_WAIT sockets to each target's upstream port right after html-100k-c1000: direct 3; proxy 12;

a note
`
	if got := b.String(); got != want {
		t.Errorf("WriteMarkdown:\n%s\nwant:\n%s", got, want)
	}
}
