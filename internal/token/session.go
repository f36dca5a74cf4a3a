package token

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// SessionCookie is the agent session cookie's name. It cannot use the
// __Host- prefix, which requires Path=/, because the cookie is scoped to the
// reserved prefix.
const SessionCookie = "cobrowse_agent"

// DefaultSessionTTL is how long an agent desk session lasts.
const DefaultSessionTTL = 8 * time.Hour

// sessionLabel is the HKDF info that separates the session key from every
// other use of the SDK secret. Changing it signs every agent out.
const sessionLabel = "cobrowse-proxy agent session v1"

// maxCookieLen bounds the work done on a cookie before its MAC is checked.
const maxCookieLen = 2048

// Sessions issues and checks the signed agent session cookie of the agent
// desk, so an agent types an access key once instead of on every token.
//
// The cookie is base64url(JSON payload) "." base64url(HMAC-SHA256). The key
// is, unless one is configured, HKDF-SHA256 of the SDK secret with a fixed
// label: every replica that shares the SDK secret accepts every replica's
// cookies with nothing more to configure, the key can never be used as the
// SDK secret itself, and rotating the SDK secret signs all agents out
// (which is what a rotation after a leak should do). Expiry is part of the
// signed payload and enforced here, whatever the browser keeps.
//
// Sign-out revokes the cookie here, not only in the browser: a copy taken
// before sign-out stops working at once. Revocations are kept in memory
// until the cookie would have expired, at most maxRevoked of them.
type Sessions struct {
	secret   SecretSource // used when key is nil
	key      []byte
	ttl      time.Duration
	path     string
	insecure bool
	now      func() time.Time
	revoked  *Revocations
}

// Revocations are the signed-out session cookies. One list outlives a
// config reload (SessionOptions.Revoked), so a cookie signed out before
// the reload stays refused after it.
//
// With NewRevocations and a Redis, a sign-out also reaches every other
// replica (revocations_redis.go).
type Revocations struct {
	shared revocationsRedis // zero: this replica only

	mu     sync.Mutex
	m      map[[sha256.Size]byte]int64 // cookie MAC → its expiry (Unix seconds)
	synced uint64                      // Redis outages seen when m was last written there
}

// maxRevoked bounds the revocation list. Only a signed-in agent can add to
// it (sign-out needs a valid cookie), entries leave when their cookie
// expires, and past the bound the revocation closest to expiry goes first.
const maxRevoked = 10000

// SessionOptions configure Sessions.
type SessionOptions struct {
	// Secret is the SDK secret the key is derived from, when Key is empty.
	Secret SecretSource
	// Key, when set (at least 32 bytes), signs cookies instead.
	Key []byte
	// TTL is the session lifetime (default DefaultSessionTTL).
	TTL time.Duration
	// Path is the cookie path, "{prefix}/".
	Path string
	// Insecure leaves the Secure attribute off. Browsers store Secure
	// cookies from http://localhost anyway, so this is needed only for
	// plain-HTTP development on another host name; never in production.
	Insecure bool
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Revoked is the revocation list to use (nil: a new one).
	Revoked *Revocations
}

// NewSessions returns a session issuer.
func NewSessions(o SessionOptions) *Sessions {
	if o.TTL <= 0 {
		o.TTL = DefaultSessionTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Path == "" {
		o.Path = "/"
	}
	if o.Revoked == nil {
		o.Revoked = &Revocations{}
	}
	return &Sessions{secret: o.Secret, key: bytes.Clone(o.Key), ttl: o.TTL, path: o.Path, insecure: o.Insecure, now: o.Now, revoked: o.Revoked}
}

type sessionPayload struct {
	Version int    `json:"v"`
	Sub     string `json:"sub"`
	Name    string `json:"name"`
	Via     string `json:"via"`
	Iat     int64  `json:"iat"`
	Exp     int64  `json:"exp"`
	// ID makes every cookie unique, so revoking one (sign-out) never
	// revokes a later sign-in of the same agent within the same second.
	ID string `json:"id,omitempty"`
}

func (s *Sessions) signingKey() ([]byte, error) {
	if len(s.key) > 0 {
		return s.key, nil
	}
	if s.secret == nil {
		return nil, errors.New("session key: no secret configured")
	}
	sec, err := s.secret.Secret()
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	defer clear(sec)
	k, err := hkdf.Key(sha256.New, sec, nil, sessionLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("session key: derive: %w", err)
	}
	return k, nil
}

func mac(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Issue sets the session cookie for agent: HttpOnly, SameSite=Strict,
// Secure (unless configured off), Path={prefix}/, Max-Age the session TTL.
// It fails, setting nothing, when the signing key is unavailable.
func (s *Sessions) Issue(w http.ResponseWriter, agent Identity) error {
	key, err := s.signingKey()
	if err != nil {
		return err
	}
	via := agent.Method
	if via == MethodSession {
		via = agent.Via
	}
	now := s.now().Unix()
	var id [12]byte
	rand.Read(id[:]) // never returns an error (crypto/rand, Go 1.24+)
	p := sessionPayload{Version: 1, Sub: agent.UserID, Name: agent.UserName, Via: via, Iat: now, Exp: now + int64(s.ttl/time.Second),
		ID: base64.RawURLEncoding.EncodeToString(id[:])}
	js, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("session cookie: %w", err)
	}
	body := base64.RawURLEncoding.EncodeToString(js)
	value := body + "." + base64.RawURLEncoding.EncodeToString(mac(key, body))
	if len(value) > maxCookieLen {
		return errors.New("session cookie: identity too long")
	}
	http.SetCookie(w, s.cookie(value, int(s.ttl/time.Second)))
	return nil
}

// Clear removes the session cookie (sign-out).
func (s *Sessions) Clear(w http.ResponseWriter) {
	http.SetCookie(w, s.cookie("", -1))
}

// Revoke makes r's session cookie, when it is valid, invalid from now on,
// whoever presents it.
func (s *Sessions) Revoke(r *http.Request) {
	p, sig, ok := s.parse(r)
	if !ok {
		return
	}
	now := s.now().Unix()
	s.revoked.add(sig, p.Exp, now)
	s.revoked.publish(r.Context(), sig, p.Exp, now)
}

// add records sig, expiring at exp, as revoked.
func (rv *Revocations) add(sig [sha256.Size]byte, exp, now int64) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.m == nil {
		rv.m = map[[sha256.Size]byte]int64{}
	}
	if len(rv.m) >= maxRevoked {
		var first [sha256.Size]byte
		firstExp := int64(math.MaxInt64)
		for k, e := range rv.m {
			if e <= now {
				delete(rv.m, k)
			} else if e < firstExp {
				first, firstExp = k, e
			}
		}
		if len(rv.m) >= maxRevoked {
			delete(rv.m, first)
		}
	}
	rv.m[sig] = exp
}

func (s *Sessions) isRevoked(ctx context.Context, sig [sha256.Size]byte, exp int64) bool {
	rv := s.revoked
	rv.mu.Lock()
	_, ok := rv.m[sig]
	rv.mu.Unlock()
	return ok || rv.sharedRevoked(ctx, sig, exp, s.now().Unix())
}

func (s *Sessions) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: SessionCookie, Value: value, Path: s.path, MaxAge: maxAge,
		HttpOnly: true, Secure: !s.insecure, SameSite: http.SameSiteStrictMode,
	}
}

// Agent returns the agent of a valid, unexpired session cookie. A cookie
// whose MAC does not verify (tampered, or signed before a secret rotation)
// or whose signed expiry has passed is refused.
func (s *Sessions) Agent(r *http.Request) (Identity, bool) {
	p, sig, ok := s.parse(r)
	if !ok || s.isRevoked(r.Context(), sig, p.Exp) {
		return Identity{}, false
	}
	return Identity{UserID: p.Sub, UserName: CleanName(p.Name, MaxUserNameLen), Method: MethodSession, Via: p.Via}, true
}

// parse returns the payload and MAC of a valid, unexpired session cookie.
func (s *Sessions) parse(r *http.Request) (p sessionPayload, sig [sha256.Size]byte, ok bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > maxCookieLen {
		return p, sig, false
	}
	body, sigText, ok := strings.Cut(c.Value, ".")
	if !ok {
		return p, sig, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sigText)
	if err != nil || len(got) != sha256.Size {
		return p, sig, false
	}
	key, err := s.signingKey()
	if err != nil {
		return p, sig, false
	}
	if !hmac.Equal(got, mac(key, body)) {
		return p, sig, false
	}
	js, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return p, sig, false
	}
	if err := json.Unmarshal(js, &p); err != nil || p.Version != 1 {
		return p, sig, false
	}
	if now := s.now().Unix(); now >= p.Exp || p.Exp-p.Iat > int64(s.ttl/time.Second) || checkUserID(p.Sub) != nil {
		return p, sig, false
	}
	copy(sig[:], got)
	return p, sig, true
}
