package benchcompare

import (
	"strings"
	"testing"
	"time"
)

const wrkFull = `Running 5s test @ http://127.0.0.1:8080/page/10k.html
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms    2.10ms  40.12ms   91.20%
    Req/Sec    10.21k     1.02k   12.30k    71.00%
  Latency Distribution
     50%  812.00us
     75%    1.40ms
     90%    2.80ms
     99%   11.52ms
  101610 requests in 5.00s, 1.02GB read
  Socket errors: connect 0, read 3, write 0, timeout 12
  Non-2xx or 3xx responses: 7
Requests/sec:  20310.45
Transfer/sec:    208.90MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    WrkResult
		wantErr string
	}{
		{
			name: "full output with errors",
			out:  wrkFull,
			want: WrkResult{Requests: 101610, ReqPerSec: 20310.45, P50: 812 * time.Microsecond,
				P99: 11520 * time.Microsecond, Non2xx: 7, SocketErr: 15},
		},
		{
			name: "clean run, seconds",
			out: "  Latency Distribution\n     50%    1.00s \n     75%    1.20s\n     99%    2.50s\n" +
				"  3000 requests in 5.01s, 300.00MB read\nRequests/sec:    598.80\n",
			want: WrkResult{Requests: 3000, ReqPerSec: 598.80, P50: time.Second, P99: 2500 * time.Millisecond},
		},
		{
			name: "minutes",
			out:  "     50%    1.50m\n     99%    2.00m\nRequests/sec: 1.00\n",
			want: WrkResult{ReqPerSec: 1, P50: 90 * time.Second, P99: 2 * time.Minute},
		},
		{
			name:    "no --latency",
			out:     strings.Replace(wrkFull, "     50%  812.00us\n", "", 1),
			wantErr: "50%/99%",
		},
		{
			name:    "connect failure",
			out:     "unable to connect to 127.0.0.1:1 Connection refused\n",
			wantErr: "no Requests/sec",
		},
		{
			name:    "bad unit",
			out:     "     50%    1.00parsecs\n     99% 2ms\nRequests/sec: 1\n",
			wantErr: "bad duration",
		},
		{
			name:    "bad rate",
			out:     "     50%    1ms\n     99% 2ms\nRequests/sec: many\n",
			wantErr: "Requests/sec",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWrk(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseWrk error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWrk: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseWrk = %+v, want %+v", got, tt.want)
			}
			if got.Errors() != tt.want.Non2xx+tt.want.SocketErr {
				t.Errorf("Errors() = %d", got.Errors())
			}
		})
	}
}

func TestParseWrkDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"812.00us", 812 * time.Microsecond, true},
		{"1.23ms", 1230 * time.Microsecond, true},
		{"2.00s", 2 * time.Second, true},
		{"0.50m", 30 * time.Second, true},
		{"1.00h", time.Hour, true},
		{"12", 0, false},
		{"ms", 0, false},
		{"-1ms", 0, false},
	}
	for _, tt := range tests {
		got, err := parseWrkDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseWrkDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
