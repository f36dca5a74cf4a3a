package token

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
)

// TestSecretNeverAppears runs every kind of request (issued, refused, failed
// closed, agent sign-in) with a debug logger and a metrics registry, then
// looks for the SDK secret, and the agent key, in everything the service
// wrote: the log, every response body, Set-Cookie and Location header, the
// gathered metrics, and the errors and printed forms of the secret sources.
func TestSecretNeverAppears(t *testing.T) {
	const agentKey = "cbpk_AGENT-KEY-MUST-NOT-LEAK-77"
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	fileSecret := testSecret + "-from-file"
	var src *FileSecret
	e := newEnv(t, func(o *Options) {
		src = NewFileSecret(path, 0, nil)
		o.Secret = src
		o.BYOP = true
		agentKeyOpts(agentKey)(o)
		o.CustomerRate = RateLimit{Every: time.Minute, Burst: 2}
	})

	// The file is missing: fail closed, 503, logged.
	if r := e.postToken(`{"role":1}`, nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("missing secret file: %d %s", r.status, r.body)
	}
	if err := os.WriteFile(path, []byte(fileSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := e.postToken(`{"role":1,"userName":"Ann","customPinCode":"x1"}`, nil)
	verifyJWT(t, ok.token(t).Token, []byte(fileSecret))
	e.postToken(`{"role":1}`, nil)
	e.postToken(`{"role":1}`, nil) // rate limited
	e.postToken(`{"role":"bad","expirationSeconds":"1"}`, nil)
	e.do(http.MethodGet, DefaultPrefix+"/token", "", "", nil)
	e.do(http.MethodPost, DefaultPrefix+"/token", "text/plain", "x", nil)
	e.do(http.MethodPost, DefaultPrefix+"/token", "application/json", `{"role":1}`, map[string]string{"Origin": "https://evil.example"})
	e.postToken(`{"role":2}`, map[string]string{"Authorization": "Bearer " + agentKey})
	e.postToken(`{"role":2}`, map[string]string{"Authorization": "Bearer wrong"})
	login(e, "wrong", nil)
	c := sessionCookie(t, login(e, agentKey, nil))
	e.do(http.MethodPost, DefaultPrefix+"/token", "application/json", `{"role":2}`, e.sameOrigin(), c)
	os.WriteFile(path, nil, 0o600) // emptied: fail closed again
	e.postToken(`{"role":2}`, map[string]string{"Authorization": "Bearer " + agentKey})
	login(e, agentKey, nil)

	var metrics bytes.Buffer
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(&metrics, mf)
	}
	places := map[string]string{
		"log":     e.log.String(),
		"metrics": metrics.String(),
		"printed": fmt.Sprintf("%v %s %#v %+v", StaticSecret(testSecret), StaticSecret(testSecret), StaticSecret(testSecret), e.svc.Agents),
		"error":   fmt.Sprint(src.Check()),
	}
	for i, b := range e.bodies {
		places[fmt.Sprintf("response %d", i)] = string(b)
	}
	if !strings.Contains(e.log.String(), "token not issued") || !strings.Contains(metrics.String(), `reason="unavailable"`) {
		t.Fatalf("the failure was not logged and counted; log:\n%s", e.log.String())
	}
	for where, text := range places {
		for _, secret := range []string{testSecret, fileSecret, agentKey} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains a secret: %s", where, text)
			}
		}
	}
}
