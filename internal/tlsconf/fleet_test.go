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

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
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
		r.cmd = exec.Command(bin, "run", "-config", cfgPath)
		out, err := r.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		r.cmd.Stderr = r.cmd.Stdout
		r.exited = make(chan struct{})
		go func() {
			defer close(r.exited)
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
	// Start both together: they race for the issuance lock.
	for _, r := range replicas {
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, r := range replicas {
			r.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, r := range replicas {
			select {
			case <-r.exited:
			case <-time.After(20 * time.Second):
				r.cmd.Process.Kill()
				<-r.exited
			}
			r.cmd.Wait()
		}
		if t.Failed() {
			for _, r := range replicas {
				t.Logf("replica %d log:\n%s", r.id, r.logText())
			}
		}
	})

	// Both replicas serve a certificate for the name.
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
	if n := orders.Load(); n != 1 {
		t.Errorf("orders at the CA = %d, want exactly 1 for two replicas and one name", n)
	}
	if !bytes.Equal(leaves[0].Raw, leaves[1].Raw) {
		t.Errorf("replicas serve different certificates: serial %v and %v", leaves[0].SerialNumber, leaves[1].SerialNumber)
	}
	if _, err := leaves[0].Verify(x509.VerifyOptions{DNSName: fleetName, Roots: pebble.IssuerRoots,
		Intermediates: x509.NewCertPool(), CurrentTime: time.Now()}); err != nil {
		// The chain's intermediate is not in the leaf; check the name at least.
		if err := leaves[0].VerifyHostname(fleetName); err != nil {
			t.Errorf("certificate is not for %s: %v", fleetName, err)
		}
	}
	o := orderer.Load()
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

	// The private key is not in Redis as PEM.
	raw := rds.client()
	keys, err := raw.Keys(ctx, "fleet-test:certmagic:f:certificates/*"+fleetName+".key").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("private key in Redis: %v, %v", keys, err)
	}
	if v := raw.HGet(ctx, keys[0], "v").Val(); strings.Contains(v, "PRIVATE KEY") {
		t.Errorf("private key stored in clear at %s", keys[0])
	}
	t.Logf("orders at the CA: %d; replica %d ordered, replica %d answered %d challenge request(s) and loaded the certificate from Redis",
		orders.Load(), o, other.id, other.challengesAnswered.Load())
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
