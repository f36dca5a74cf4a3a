package tlsconf

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fleetName is the site host both replicas serve.
const fleetName = "shop.fleet.test"

// replica is one cobrowse-proxy process of the fleet under test.
type replica struct {
	id                    int
	cfgPath               string
	http, https, admin    string
	cmd                   *exec.Cmd
	mu                    sync.Mutex
	log                   bytes.Buffer
	ordered, foundInStore atomic.Bool
	challengesAnswered    atomic.Int32
	challengeStatusNotOK  atomic.Int32
	exited                chan struct{}
}

func (r *replica) logText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.String()
}

// buildProxy builds cmd/cobrowse-proxy once for the test.
func buildProxy(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cobrowse-proxy")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/cobrowse-proxy/cobrowse-proxy/cmd/cobrowse-proxy")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cobrowse-proxy: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestFleetTwoProcessesOneOrder is issue 13's headline: two proxy
// processes sharing one Redis and one name, started together, make
// exactly one order at the CA (Pebble, validating for real); both serve
// the same certificate; and the HTTP-01 challenge is answered by the
// replica that did NOT order it (the load balancer in front sends it
// there), from the challenge answer the other stored in Redis. The
// private key reaches Redis encrypted.
func TestFleetTwoProcessesOneOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the proxy and runs two processes")
	}
	rds := startRedis(t)
	bin := buildProxy(t)
	dir := t.TempDir()

	// The load balancer on the port Pebble validates against: challenge
	// requests go to the replica that is not ordering.
	replicas := []*replica{{id: 0}, {id: 1}}
	var orderer atomic.Int32
	orderer.Store(-1)
	lbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadline := time.Now().Add(10 * time.Second)
		for orderer.Load() < 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // the orderer's log line is on its way
		}
		o := orderer.Load()
		if o < 0 {
			http.Error(w, "no replica said it orders", http.StatusBadGateway)
			return
		}
		other := replicas[1-o]
		target, _ := url.Parse("http://" + other.http)
		rec := httptest.NewRecorder()
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(rec, r)
		if strings.HasPrefix(r.URL.Path, acmeChallengePath) {
			other.challengesAnswered.Add(1)
			if rec.Code != http.StatusOK {
				other.challengeStatusNotOK.Add(1)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})}
	go lb.Serve(lbLn)
	t.Cleanup(func() { lb.Close() })
	_, lbPort, _ := net.SplitHostPort(lbLn.Addr().String())
	var port int
	fmt.Sscan(lbPort, &port)

	var orders atomic.Int32
	pebble := startPebbleWrapped(t, port, 1, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/order-plz" {
				orders.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the site")
	}))
	t.Cleanup(upstream.Close)
	keyFile := filepath.Join(dir, "encryption.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	for _, r := range replicas {
		r.http, r.https, r.admin = freePort(t), freePort(t), freePort(t)
		cfgPath := filepath.Join(dir, fmt.Sprintf("replica%d.yaml", r.id))
		cfg := fmt.Sprintf(`listen: {http: %q, https: %q, admin: %q}
tls:
  mode: acme
  acme:
    ca: %s
    caRoots: %s
    challenges: [http-01]
    storage: %s
storage:
  redis:
    url: %s
    keyPrefix: fleet-test
    encryptionKeyFile: %s
log: {level: debug, format: json}
zoom: {sdkKey: KEY, sdkSecret: fleet-test-secret-0123456789}
reload: {watch: false}
sites:
  - name: shop
    hosts: [%s]
    upstream: %s
`, r.http, r.https, r.admin, pebble.Directory, pebble.HTTPSRoots, filepath.Join(dir, fmt.Sprintf("unused-acme-%d", r.id)),
			rds.url(), keyFile, fleetName, upstream.URL)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		r.cfgPath = cfgPath
	}
	// Round 1: both start together and race for the issuance lock.
	leaves := startFleet(t, ctx, bin, replicas, &orderer)
	o := checkRound(t, replicas, leaves, &orderer, &orders, 1)
	first := leaves[0]

	// The private key is not in Redis as PEM.
	raw := rds.client()
	keys, err := raw.Keys(ctx, "fleet-test:certmagic:f:certificates/*"+fleetName+".key").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("private key in Redis: %v, %v", keys, err)
	}
	if v := raw.HGet(ctx, keys[0], "v").Val(); strings.Contains(v, "PRIVATE KEY") {
		t.Errorf("private key stored in clear at %s", keys[0])
	}
	t.Logf("round 1: orders at the CA: %d; replica %d ordered, replica %d answered %d challenge request(s) and loaded the certificate from Redis",
		orders.Load(), o, 1-o, replicas[1-o].challengesAnswered.Load())

	// Redis down: both keep serving the same certificate and stay ready.
	rds.stop()
	for _, r := range replicas {
		leaf, err := handshake(r.https)
		if err != nil || !bytes.Equal(leaf.Raw, first.Raw) {
			t.Errorf("Redis down: replica %d handshake: %v (same certificate: %v)", r.id, err, err == nil && bytes.Equal(leaf.Raw, first.Raw))
		}
		if code := getStatus("http://" + r.admin + "/readyz"); code != http.StatusOK {
			t.Errorf("Redis down: replica %d /readyz = %d, want 200", r.id, code)
		}
	}

	// Redis comes back empty and both replicas restart (a rollout): the
	// certificate is obtained again once for the fleet, not once each.
	rds.start()
	stopFleet(t, replicas)
	orderer.Store(-1)
	for _, r := range replicas {
		r.ordered.Store(false)
		r.foundInStore.Store(false)
		r.challengesAnswered.Store(0)
		r.challengeStatusNotOK.Store(0)
	}
	leaves = startFleet(t, ctx, bin, replicas, &orderer)
	o = checkRound(t, replicas, leaves, &orderer, &orders, 2)
	if bytes.Equal(leaves[0].Raw, first.Raw) {
		t.Error("after Redis came back empty the replicas serve the old certificate; want a new one from the one new order")
	}
	t.Logf("round 2 (Redis restarted empty, replicas restarted): orders at the CA: %d in all; replica %d ordered", orders.Load(), o)
}

// startFleet starts every replica at once and waits until each serves a
// certificate for fleetName; it returns the leaves.
func startFleet(t *testing.T, ctx context.Context, bin string, replicas []*replica, orderer *atomic.Int32) []*x509.Certificate {
	t.Helper()
	for _, r := range replicas {
		r.mu.Lock()
		r.log.Reset()
		r.mu.Unlock()
		r.cmd = exec.Command(bin, "run", "-config", r.cfgPath)
		out, err := r.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		r.cmd.Stderr = r.cmd.Stdout
		exited := make(chan struct{})
		r.exited = exited
		go func() {
			defer close(exited)
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				line := sc.Text()
				r.mu.Lock()
				r.log.WriteString(line + "\n")
				r.mu.Unlock()
				if strings.Contains(line, `"obtaining certificate"`) && strings.Contains(line, fleetName) {
					r.ordered.Store(true)
					orderer.CompareAndSwap(-1, int32(r.id))
				}
				if strings.Contains(line, `"certificate already exists in storage"`) {
					r.foundInStore.Store(true)
				}
			}
			io.Copy(io.Discard, out)
		}()
	}
	for _, r := range replicas {
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range replicas {
				t.Logf("replica %d log:\n%s", r.id, r.logText())
			}
		}
		stopFleet(t, replicas)
	})
	leaves := make([]*x509.Certificate, len(replicas))
	for i, r := range replicas {
		for {
			leaf, err := handshake(r.https)
			if err == nil {
				leaves[i] = leaf
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("replica %d serves no certificate for %s: %v", r.id, fleetName, err)
			case <-r.exited:
				t.Fatalf("replica %d exited", r.id)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return leaves
}

// stopFleet stops the replicas (SIGTERM, then SIGKILL after 20s) and
// waits for them. It is a no-op for a replica already stopped.
func stopFleet(t *testing.T, replicas []*replica) {
	for _, r := range replicas {
		if r.cmd != nil {
			r.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, r := range replicas {
		if r.cmd == nil {
			continue
		}
		select {
		case <-r.exited:
		case <-time.After(20 * time.Second):
			r.cmd.Process.Kill()
			<-r.exited
		}
		r.cmd.Wait()
		r.cmd = nil
	}
}

// checkRound checks one round of the fleet: wantOrders orders at the CA
// so far, the same certificate on every replica, one replica ordered and
// the other answered the challenge and took the certificate from Redis.
// It returns the orderer.
func checkRound(t *testing.T, replicas []*replica, leaves []*x509.Certificate, orderer, orders *atomic.Int32, wantOrders int32) int {
	t.Helper()
	if n := orders.Load(); n != wantOrders {
		t.Errorf("orders at the CA = %d, want exactly %d (one per round for two replicas and one name)", n, wantOrders)
	}
	if !bytes.Equal(leaves[0].Raw, leaves[1].Raw) {
		t.Errorf("replicas serve different certificates: serial %v and %v", leaves[0].SerialNumber, leaves[1].SerialNumber)
	}
	if err := leaves[0].VerifyHostname(fleetName); err != nil {
		t.Errorf("certificate is not for %s: %v", fleetName, err)
	}
	o := int(orderer.Load())
	if o < 0 {
		t.Fatal("no replica logged that it orders")
	}
	other := replicas[1-o]
	if replicas[o].foundInStore.Load() || other.ordered.Load() {
		t.Errorf("replica %d ordered=%v, replica %d ordered=%v: want only the first", o, replicas[o].ordered.Load(), other.id, other.ordered.Load())
	}
	if other.challengesAnswered.Load() == 0 || other.challengeStatusNotOK.Load() != 0 {
		t.Errorf("the replica that did not order answered %d challenge requests, %d not 200; want at least one, all 200",
			other.challengesAnswered.Load(), other.challengeStatusNotOK.Load())
	}
	if !other.foundInStore.Load() {
		t.Errorf("replica %d did not take the certificate from storage", other.id)
	}
	return o
}

func getStatus(u string) int {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// handshake connects to addr with SNI fleetName and returns the leaf.
func handshake(addr string) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: fleetName, InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("no certificate")
	}
	return certs[0], nil
}
