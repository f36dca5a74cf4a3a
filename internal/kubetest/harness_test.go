package kubetest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/testcert"
)

// startTimeout bounds how long etcd and kube-apiserver may take to become
// ready; a cold kube-apiserver on a busy 2-core machine needs about 10 s.
const startTimeout = 90 * time.Second

// maxResponse bounds what the tests read from the API server per response.
const maxResponse = 16 << 20

// tool finds one of the binaries `make kube-tools` builds: $env, else
// .cache/kube/bin/name at the repository's root. A missing binary skips
// the test, or fails it under CI, which must run these tests.
func tool(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("$%s=%s: %v", env, p, err)
		}
		return p
	}
	p, err := filepath.Abs(filepath.Join("..", "..", ".cache", "kube", "bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found at %s: run `make kube-tools` (builds kube-apiserver, etcd and kustomize into .cache/kube/bin), or set $%s", name, p, env)
	if os.Getenv("CI") != "" {
		t.Fatal(msg) // CI must run the API-server tests, not skip them
	}
	t.Skip(msg)
	return ""
}

// Cluster is a running kube-apiserver (with its etcd) on loopback, reached
// as a member of system:masters with a static bearer token.
type Cluster struct {
	URL    string       // https://127.0.0.1:PORT
	Client *http.Client // trusts the server's certificate
	token  string
	dir    string

	mu        sync.Mutex
	resources map[string]apiResource // "apiVersion/Kind" -> resource, from discovery
}

type apiResource struct {
	name       string // plural, as in the URL path
	namespaced bool
}

// freePort returns a loopback port that was free a moment ago; the
// servers here take their ports as flags, not as listeners.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProcess runs a server for the length of the test: its output goes
// to a log file that is printed when the test fails, and the process is
// killed and waited for at cleanup.
func startProcess(t *testing.T, dir, name, bin string, args ...string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("last lines of %s's log:\n%s", name, b)
		}
	})
}

// waitFor polls check until it succeeds or startTimeout passes.
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s: %v", what, startTimeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// StartCluster starts etcd and kube-apiserver on loopback ports for the
// test, waits until /readyz answers ok, and stops and removes both at
// cleanup. Authentication is a static token file (the user is in
// system:masters, authorization RBAC), the service-account keys are made
// in a temporary directory, and the admission chain includes PodSecurity
// and MutatingAdmissionWebhook.
func StartCluster(t *testing.T) *Cluster {
	t.Helper()
	apiserver := tool(t, "KUBE_APISERVER", "kube-apiserver")
	etcd := tool(t, "ETCD", "etcd")
	dir := t.TempDir()

	// etcd on two loopback ports, no fsync: its data dies with the test.
	clientPort, peerPort := freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	startProcess(t, dir, "etcd", etcd,
		"--name=kubetest", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL,
		"--unsafe-no-fsync", "--log-level=warn")
	plain := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(plain.CloseIdleConnections)
	waitFor(t, "etcd", func() error {
		resp, err := plain.Get(etcdURL + "/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"true"`)) {
			return fmt.Errorf("etcd /health: %d %s", resp.StatusCode, b)
		}
		return nil
	})

	// The serving certificate, the token and the service-account keys.
	serving := testcert.New(t, time.Now().Add(24*time.Hour), 0, "127.0.0.1", "localhost")
	certFile, keyFile := filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key")
	serving.Write(t, certFile, keyFile)
	token := randomHex(t)
	tokenFile := filepath.Join(dir, "tokens.csv")
	writeFile(t, tokenFile, []byte(token+`,kubetest-admin,kubetest-admin,"system:masters"`+"\n"))
	saKey, saPub := serviceAccountKeys(t, dir)

	port := freePort(t)
	startProcess(t, dir, "kube-apiserver", apiserver,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--tls-cert-file="+certFile, "--tls-private-key-file="+keyFile,
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+saPub,
		"--service-account-signing-key-file="+saKey,
		// Only a setting: no Service gets an address that is reached.
		"--service-cluster-ip-range=10.96.0.0/24",
		"--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,LimitRanger,PodSecurity,DefaultTolerationSeconds,MutatingAdmissionWebhook,ValidatingAdmissionPolicy,ValidatingAdmissionWebhook,ResourceQuota",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=1",
	)

	c := &Cluster{
		URL:   fmt.Sprintf("https://127.0.0.1:%d", port),
		token: token,
		dir:   dir,
		Client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serving.Pool()}},
		},
		resources: map[string]apiResource{},
	}
	t.Cleanup(c.Client.CloseIdleConnections)
	waitFor(t, "kube-apiserver", func() error {
		code, _, body, err := c.do(http.MethodGet, "/readyz", "", nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("/readyz: %d %s", code, body)
		}
		return nil
	})
	return c
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// serviceAccountKeys writes the key pair kube-apiserver signs and checks
// service-account tokens with; it is required even though no pod runs.
func serviceAccountKeys(t *testing.T, dir string) (keyFile, pubFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pder, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, pubFile = filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	writeFile(t, pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}))
	return keyFile, pubFile
}

// Response is one answer of the API server.
type Response struct {
	Code     int
	Body     []byte
	Warnings []string // the Warning headers (Pod Security, deprecations…)
}

// do sends one request with the bearer token.
func (c *Cluster) do(method, path, contentType string, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// Do sends a request and fails the test when it cannot be sent; the
// status is the caller's to check.
func (c *Cluster) Do(t *testing.T, method, path, contentType string, body []byte) Response {
	t.Helper()
	code, h, b, err := c.do(method, path, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Code: code, Body: b, Warnings: h.Values("Warning")}
}

// MustDo is Do that also fails the test on a status other than want.
func (c *Cluster) MustDo(t *testing.T, want int, method, path, contentType string, body any) Response {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	if contentType == "" && b != nil {
		contentType = "application/json"
	}
	r := c.Do(t, method, path, contentType, b)
	if r.Code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Code, want, r.Body)
	}
	return r
}

// CreateNamespace creates a namespace with labels and its `default`
// ServiceAccount, which the ServiceAccount admission plugin requires of
// every pod and which no controller-manager creates here.
func (c *Cluster) CreateNamespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	ns := map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "labels": labels}}
	c.MustDo(t, http.StatusCreated, http.MethodPost, "/api/v1/namespaces", "", ns)
	sa := map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": "default"}}
	c.MustDo(t, http.StatusCreated, http.MethodPost, "/api/v1/namespaces/"+name+"/serviceaccounts", "", sa)
}

// restrictedLabels make a namespace enforce and warn at the restricted
// Pod Security level: pods that break it are refused, and workloads whose
// templates break it are admitted with a Warning header.
func restrictedLabels() map[string]string {
	return map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
		"pod-security.kubernetes.io/audit":   "restricted",
	}
}

// errNoResource is returned for a kind the API server does not serve.
var errNoResource = errors.New("kind not served")

// resource finds the URL path segment of apiVersion/kind by discovery.
func (c *Cluster) resource(t *testing.T, apiVersion, kind string) (apiResource, error) {
	t.Helper()
	key := apiVersion + "/" + kind
	c.mu.Lock()
	r, ok := c.resources[key]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	path := "/apis/" + apiVersion
	if apiVersion == "v1" {
		path = "/api/v1"
	}
	resp := c.Do(t, http.MethodGet, path, "", nil)
	if resp.Code == http.StatusNotFound {
		return apiResource{}, fmt.Errorf("%s: %w", key, errNoResource)
	}
	if resp.Code != http.StatusOK {
		t.Fatalf("discovery %s: %d %s", path, resp.Code, resp.Body)
	}
	var list struct {
		Resources []struct {
			Name       string `json:"name"`
			Kind       string `json:"kind"`
			Namespaced bool   `json:"namespaced"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		t.Fatalf("discovery %s: %v", path, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, res := range list.Resources {
		if strings.Contains(res.Name, "/") { // subresources
			continue
		}
		c.resources[apiVersion+"/"+res.Kind] = apiResource{name: res.Name, namespaced: res.Namespaced}
	}
	if r, ok := c.resources[key]; ok {
		return r, nil
	}
	return apiResource{}, fmt.Errorf("%s: %w", key, errNoResource)
}

// objectPath is the URL path of obj; namespaced objects without a
// namespace go to defaultNS.
func (c *Cluster) objectPath(t *testing.T, obj map[string]any, defaultNS string) (string, error) {
	t.Helper()
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if apiVersion == "" || kind == "" || name == "" {
		return "", fmt.Errorf("object without apiVersion, kind or metadata.name: %v", obj)
	}
	res, err := c.resource(t, apiVersion, kind)
	if err != nil {
		return "", err
	}
	prefix := "/apis/" + apiVersion
	if apiVersion == "v1" {
		prefix = "/api/v1"
	}
	if res.namespaced {
		ns, _ := meta["namespace"].(string)
		if ns == "" {
			ns = defaultNS
		}
		prefix += "/namespaces/" + url.PathEscape(ns)
	}
	return prefix + "/" + res.name + "/" + url.PathEscape(name), nil
}

// Apply server-side applies obj (force, field manager "kubetest"), as a
// dry run when dryRun is set, and returns the answer whatever its status.
func (c *Cluster) Apply(t *testing.T, obj map[string]any, defaultNS string, dryRun bool) Response {
	t.Helper()
	path, err := c.objectPath(t, obj, defaultNS)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"fieldManager": {"kubetest"}, "force": {"true"}}
	if dryRun {
		q.Set("dryRun", "All")
	}
	b, err := json.Marshal(obj) // JSON is YAML: the apply-patch+yaml body
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(t, http.MethodPatch, path+"?"+q.Encode(), "application/apply-patch+yaml", b)
}

// CreateCRD creates a CustomResourceDefinition that accepts any fields
// (for kinds whose real CRDs, from other projects, are not installed
// here) and waits until its kind is served.
func (c *Cluster) CreateCRD(t *testing.T, group, version, kind, plural string, namespaced bool) {
	t.Helper()
	scope := "Cluster"
	if namespaced {
		scope = "Namespaced"
	}
	crd := map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": plural + "." + group},
		"spec": map[string]any{
			"group": group, "scope": scope,
			"names": map[string]any{"kind": kind, "plural": plural, "listKind": kind + "List",
				"singular": strings.ToLower(kind)},
			"versions": []any{map[string]any{
				"name": version, "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}
	c.MustDo(t, http.StatusCreated, http.MethodPost, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "", crd)
	waitFor(t, "CRD "+plural+"."+group, func() error {
		r := c.Do(t, http.MethodGet, "/apis/"+group+"/"+version+"/"+plural, "", nil)
		if r.Code != http.StatusOK {
			return fmt.Errorf("%d %s", r.Code, r.Body)
		}
		return nil
	})
}
