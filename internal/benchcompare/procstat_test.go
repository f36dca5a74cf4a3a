package benchcompare

import (
	"os"
	"strings"
	"testing"
)

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		wantErr  bool
	}{
		{"present", "Name:\tcobrowse-proxy\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40000 kB\n", 51200 << 10, false},
		{"missing", "Name:\tx\nVmRSS:\t 1 kB\n", 0, true},
		{"not a number", "VmHWM:\t lots kB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmHWM(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseVmHWM = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPeakRSSSelf(t *testing.T) {
	rss, err := PeakRSS(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if rss <= 0 {
		t.Errorf("PeakRSS(self) = %d, want > 0", rss)
	}
}

func TestCountTimeWait(t *testing.T) {
	// Port 8080 is 1F90; 3000 is 0BB8.
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C35A 0100007F:1F90 06 00000000:00000000 03:00000F5E 00000000     0        0 0 3 0000000000000000
   2: 0100007F:1F90 0100007F:C35B 06 00000000:00000000 03:00000F5E 00000000     0        0 0 3 0000000000000000
   3: 0100007F:C35C 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   4: 0100007F:C35D 0100007F:0BB8 06 00000000:00000000 03:00000F5E 00000000     0        0 0 3 0000000000000000
`
	tests := []struct {
		port, want int
	}{{8080, 2}, {3000, 1}, {9090, 0}}
	for _, tt := range tests {
		got, err := countTimeWait(strings.NewReader(table), tt.port)
		if err != nil || got != tt.want {
			t.Errorf("countTimeWait(%d) = %d, %v; want %d", tt.port, got, err, tt.want)
		}
	}
	if _, err := countTimeWait(strings.NewReader("header\n 0: 0100007F 0100007F:ZZZZ 06\n"), 1); err == nil {
		t.Error("countTimeWait accepted a malformed address")
	}
}
