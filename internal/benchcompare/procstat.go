package benchcompare

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// PeakRSS reads VmHWM (the resident set's high-water mark, in bytes) from
// /proc/PID/status.
func PeakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	defer f.Close()
	return parseVmHWM(f)
}

func parseVmHWM(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// VmHWM:	   12345 kB
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "VmHWM:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM %q: %w", f[1], err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read status: %w", err)
	}
	return 0, fmt.Errorf("no VmHWM line in status")
}

// TimeWait counts TCP sockets in TIME_WAIT (state 06) with port as their
// local or remote port, over IPv4 and IPv6: after a run against a target,
// the sockets to that target's own upstream port show whether it reused
// its upstream connections or opened new ones.
func TimeWait(port int) (int, error) {
	n := 0
	for _, p := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("time-wait count: %w", err)
		}
		c, err := countTimeWait(f, port)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p, err)
		}
		n += c
	}
	return n, nil
}

// countTimeWait reads /proc/net/tcp's format:
//
//	sl  local_address rem_address   st ...
//	 0: 0100007F:1F90 0100007F:C35A 06 ...
func countTimeWait(r io.Reader, port int) (int, error) {
	sc := bufio.NewScanner(r)
	n := 0
	first := true
	for sc.Scan() {
		if first { // header
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		if f[3] != "06" {
			continue
		}
		lp, err := hexPort(f[1])
		if err != nil {
			return 0, err
		}
		rp, err := hexPort(f[2])
		if err != nil {
			return 0, err
		}
		if lp == port || rp == port {
			n++
		}
	}
	return n, sc.Err()
}

func hexPort(addr string) (int, error) {
	_, p, ok := strings.Cut(addr, ":")
	if !ok {
		return 0, fmt.Errorf("address %q has no port", addr)
	}
	v, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return 0, fmt.Errorf("address %q: %w", addr, err)
	}
	return int(v), nil
}
