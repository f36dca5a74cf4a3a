package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/netip"
	"strings"
)

// Identity is an authenticated agent. UserID and UserName become the agent
// token's user_id and user_name; they come from the credential, never from
// the request body.
type Identity struct {
	UserID   string
	UserName string
	// Method says how the agent was authenticated: MethodKey, MethodHeader
	// or MethodSession.
	Method string
	// Via is, for MethodSession, the method the session was opened with.
	Via string
}

// Authentication methods, as recorded in Identity.Method.
const (
	MethodKey     = "key"     // bearer access key
	MethodHeader  = "header"  // identity header from a trusted auth proxy
	MethodSession = "session" // session cookie obtained with an access key
)

// AgentKey is one configured bearer access key: only its SHA-256 hash is
// kept, so a leaked config does not leak a key. Name becomes the agent's
// user_id; DisplayName (cleaned like customer names), or Name when it is
// empty, the user_name Zoom shows the customer.
type AgentKey struct {
	Name        string `yaml:"name" json:"name"`
	DisplayName string `yaml:"displayName" json:"displayName"`
	Hash        string `yaml:"hash" json:"hash"` // hex SHA-256 of the key, as HashKey prints it
}

// KeyPrefix starts every generated access key, so a leaked key is easy to
// recognise in a secret scanner.
const KeyPrefix = "cbpk_"

// GenerateKey returns a new random access key (256 bits, URL-safe).
func GenerateKey() string {
	var b [32]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashKey returns the lower-case hex SHA-256 of key, the form the config
// stores. A plain hash is enough (no salt, no slow KDF) because keys are
// 256-bit random values, not passwords a person chose.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// IdentityHeader configures authentication by a header that a trusted auth
// proxy (oauth2-proxy's X-Forwarded-Email, for example) sets.
type IdentityHeader struct {
	// Header holds the agent's identity (user_id), e.g. X-Forwarded-Email.
	Header string `yaml:"header" json:"header"`
	// NameHeader optionally holds a display name (user_name), e.g.
	// X-Forwarded-Preferred-Username; empty or absent: the identity.
	NameHeader string `yaml:"nameHeader" json:"nameHeader"`
	// From lists the peer networks the auth proxy connects from. The header
	// is ignored from any other peer, since anyone can send it.
	From []netip.Prefix `yaml:"from" json:"from"`
}

// AgentAuth decides whether a request comes from an agent.
type AgentAuth struct {
	names   []string
	display []string // user_name per key, same order as names
	hashes  [][]byte // decoded SHA-256 hashes, same order as names
	header  IdentityHeader
	peer    func(*http.Request) netip.Addr
	sess    *Sessions

	// Compare compares two hashes; it must take time independent of where
	// they differ. The default is subtle.ConstantTimeCompare; it is a field
	// so a test can prove that it is what compares.
	Compare func(a, b []byte) int
}

// NewAgentAuth returns the agent check. keys must hold valid hashes (see
// Options.Validate); peer gives the raw connection peer (never a forwarded
// header); sess may be nil (no session cookies).
func NewAgentAuth(keys []AgentKey, header IdentityHeader, peer func(*http.Request) netip.Addr, sess *Sessions) *AgentAuth {
	a := &AgentAuth{header: header, peer: peer, sess: sess, Compare: subtle.ConstantTimeCompare}
	if a.peer == nil {
		a.peer = RemoteAddr
	}
	for _, k := range keys {
		h, err := hex.DecodeString(strings.ToLower(k.Hash))
		if err != nil || len(h) != sha256.Size {
			continue // Options.Validate reports it; an unusable hash matches nothing
		}
		display := CleanName(k.DisplayName, MaxUserNameLen)
		if display == "" {
			display = k.Name
		}
		a.names = append(a.names, k.Name)
		a.display = append(a.display, display)
		a.hashes = append(a.hashes, h)
	}
	return a
}

// Configured reports whether any agent authentication method is set up.
// When none is, agent tokens are refused outright.
func (a *AgentAuth) Configured() bool {
	return len(a.hashes) > 0 || (a.header.Header != "" && len(a.header.From) > 0)
}

// VerifyKey reports which configured key key is. The presented key is
// hashed and compared with every configured hash, always all of them, in
// constant time, so timing tells neither whether nor which key matched.
func (a *AgentAuth) VerifyKey(key string) (Identity, bool) {
	if key == "" || len(a.hashes) == 0 {
		return Identity{}, false
	}
	sum := sha256.Sum256([]byte(key))
	found, idx := 0, 0
	for i, h := range a.hashes {
		eq := a.Compare(sum[:], h)
		idx = subtle.ConstantTimeSelect(eq&^found, i, idx)
		found |= eq
	}
	if found != 1 {
		return Identity{}, false
	}
	return Identity{UserID: a.names[idx], UserName: a.display[idx], Method: MethodKey}, true
}

// hasKeyName reports whether a key of that name is still configured, so that
// removing a key from the config also ends the sessions it opened.
func (a *AgentAuth) hasKeyName(name string) bool {
	for _, n := range a.names {
		if n == name {
			return true
		}
	}
	return false
}

// Authenticate checks, in order: an Authorization: Bearer key (when the
// header is present it alone decides, so a wrong key is never rescued by a
// cookie), the identity header (only from a peer within From), and the
// session cookie.
func (a *AgentAuth) Authenticate(r *http.Request) (Identity, bool) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, key, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return Identity{}, false
		}
		return a.VerifyKey(strings.TrimSpace(key))
	}
	if id, ok := a.fromHeader(r); ok {
		return id, true
	}
	if a.sess != nil {
		if id, ok := a.sess.Agent(r); ok && (id.Via != MethodKey || a.hasKeyName(id.UserID)) {
			return id, true
		}
	}
	return Identity{}, false
}

func (a *AgentAuth) fromHeader(r *http.Request) (Identity, bool) {
	h := a.header
	if h.Header == "" || len(h.From) == 0 {
		return Identity{}, false
	}
	id := strings.TrimSpace(r.Header.Get(h.Header))
	if id == "" || checkUserID(id) != nil {
		return Identity{}, false
	}
	peer := a.peer(r).Unmap()
	trusted := false
	for _, p := range h.From {
		if p.Contains(peer) {
			trusted = true
			break
		}
	}
	if !trusted {
		return Identity{}, false
	}
	name := ""
	if h.NameHeader != "" {
		name = CleanName(r.Header.Get(h.NameHeader), MaxUserNameLen)
	}
	if name == "" {
		name = CleanName(id, MaxUserNameLen)
	}
	return Identity{UserID: id, UserName: name, Method: MethodHeader}, true
}

// RemoteAddr is the connection peer from r.RemoteAddr (IPv4-mapped IPv6
// unmapped, zone dropped); the zero Addr when it does not parse. It is the
// default peer and client address: behind a trusted proxy the caller passes
// a function that reads X-Forwarded-For instead, for the client address only.
func RemoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, err := netip.ParseAddr(r.RemoteAddr)
		if err != nil {
			return netip.Addr{}
		}
		return a.Unmap().WithZone("")
	}
	return ap.Addr().Unmap().WithZone("")
}
