package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzTokenRequest posts any body to the token endpoint, as a same-origin
// page or as an agent with a valid or a wrong key, and checks the answer
// against the request as the test reads it (independently of parse): either
// 200 with a JWT whose HMAC verifies with the SDK secret and whose claims
// match the request's role, lifetime and user, or a refusal with one of the
// documented statuses and an {"errors": [...]} body naming known fields —
// never 200 without a valid token.
func FuzzTokenRequest(f *testing.F) {
	for _, s := range []string{`{"role":1}`, `{"role":"2","expirationSeconds":"1800"}`, `{"role":1,"userId":"x","userName":"\u0000"}`,
		`{"role":1,"customPinCode":"ab"}`, `[]`, `null`, `{"role":1e400}`, `{"role":" 1 "}`,
		`{"role":2,"userId":"spoof","userName":"Spoof"}`, `{"role":1,"expirationSeconds":172800}`, `{"role":1,"expirationSeconds":172801}`,
		`{"role":1,"expirationSeconds":1799}`, `{"role":"1","customPinCode":"abcDEF1234"}`, `{"role":1,"customPinCode":"abcDEF12345"}`,
		`{"role":1,"userId":"  a\tb  ","userName":"  Ann   Lee  "}`, `{"role":1} {}`, `{"role":3}`, `{"role":1.0}`,
		`{"ROLE":2,"UserId":"x"}`, `{"role":1,"role":null}`, `{"role":1}]`, `{"role":1,"userId":"id\u200b"}`, `{"role":1,"userId":7}`,
		`{"role":1,"customPinCode":"7"}`, `{"role":1,"customPinCode":"09azAZ"}`, `{"role":1,"userId":" "}`, `{"role":1,"userId":"\u00a0\u2003"}`, "{\"role\":1,\"customPinCode\":\"/:@[`{\"}"} {
		for auth := range uint8(3) {
			f.Add([]byte(s), auth)
		}
	}
	const agentKey = "cbpk_fuzz-agent"
	f.Fuzz(func(t *testing.T, body []byte, auth uint8) {
		now := time.Unix(1_800_000_000, 0)
		svc, err := New(Options{SDKKey: testKey, Secret: StaticSecret(testSecret), BYOP: true, Now: func() time.Time { return now },
			Agent: AgentOptions{Keys: []AgentKey{{Name: "desk-agent", Hash: HashKey(agentKey)}}}})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "http://shop.example/__cobrowse/token", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Origin", "http://shop.example")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		switch auth % 3 {
		case 1:
			r.Header.Set("Authorization", "Bearer "+agentKey)
		case 2:
			r.Header.Set("Authorization", "Bearer cbpk_wrong")
		}
		w := httptest.NewRecorder()
		svc.Token.ServeHTTP(w, r)
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		want := readTokenRequest(body)
		if w.Code != http.StatusOK {
			checkRefusal(t, body, w, want, auth%3)
			return
		}
		var res struct {
			Token     string  `json:"token"`
			ExpiresAt int64   `json:"expiresAt"`
			PinCode   *string `json:"pinCode"`
			Errors    any     `json:"errors"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || res.Errors != nil {
			t.Fatalf("200 with body %s (%v)", w.Body, err)
		}
		_, claims := verifyJWT(t, res.Token, []byte(testSecret))
		role := num(t, claims, "role_type")
		if !want.object || !want.roleOK || role != want.role {
			t.Fatalf("%q: 200 with role_type %d; the request's role reads as %d (valid %v)", body, role, want.role, want.roleOK)
		}
		iat, exp := num(t, claims, "iat"), num(t, claims, "exp")
		ttl := int64(7200) // DefaultTTL, literal: the test does not read it from Options
		if want.ttlSet {
			ttl = want.ttl
		}
		if iat != now.Unix() || exp-iat != ttl || res.ExpiresAt != exp {
			t.Fatalf("%q: iat %d exp %d expiresAt %d, want iat %d and lifetime %d", body, iat, exp, res.ExpiresAt, now.Unix(), ttl)
		}
		if str(t, claims, "app_key") != testKey {
			t.Fatalf("app_key %q", str(t, claims, "app_key"))
		}
		uid, name := str(t, claims, "user_id"), str(t, claims, "user_name")
		if !displayable(name) || utf8.RuneCountInString(name) > 80 || name == "" {
			t.Fatalf("%q: user_name %q is not a clean name of at most 80 characters", body, name)
		}
		if role == 2 {
			// An agent's identity comes from its key, never from the body.
			if auth%3 != 1 || uid != "desk-agent" || name != "desk-agent" {
				t.Fatalf("%q (auth %d): agent token for %q / %q", body, auth%3, uid, name)
			}
			if _, ok := claims["enable_byop"]; ok || res.PinCode != nil {
				t.Fatalf("agent token with enable_byop or a pinCode: %s", w.Body)
			}
			return
		}
		switch {
		case want.userID != "" && uid != want.userID:
			t.Fatalf("%q: user_id %q, want %q", body, uid, want.userID)
		case want.userID == "" && !generatedID(uid):
			t.Fatalf("%q: generated user_id %q is not 22 base64url characters", body, uid)
		}
		if want.plainName != "" && name != want.plainName {
			t.Fatalf("%q: user_name %q, want %q", body, name, want.plainName)
		}
		if num(t, claims, "enable_byop") != 1 || res.PinCode == nil {
			t.Fatalf("%q: customer token without enable_byop or pinCode: %s", body, w.Body)
		}
		if want.pinSet {
			if *res.PinCode != strings.ToUpper(want.pin) {
				t.Fatalf("%q: pinCode %q, want %q upper-cased", body, *res.PinCode, want.pin)
			}
		} else if len(*res.PinCode) != 10 || strings.Trim(*res.PinCode, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789") != "" {
			t.Fatalf("generated pinCode %q", *res.PinCode)
		}
	})
}

// checkRefusal checks a non-200 answer: a documented status, the errors
// body, and, for a request the test reads as plainly valid, that it was not
// refused as malformed.
func checkRefusal(t *testing.T, body []byte, w *httptest.ResponseRecorder, want tokenRequestReading, auth uint8) {
	t.Helper()
	var res struct {
		Errors []fieldError `json:"errors"`
		Token  *string      `json:"token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || len(res.Errors) == 0 || res.Token != nil {
		t.Fatalf("%d with body %s (%v); want {\"errors\": [...]}", w.Code, w.Body, err)
	}
	known := map[string]bool{"body": true, "role": true, "userId": true, "userName": true, "expirationSeconds": true, "customPinCode": true}
	switch w.Code {
	case http.StatusBadRequest:
		for _, e := range res.Errors {
			if !known[e.Property] || e.Reason == "" {
				t.Fatalf("%q: 400 error %+v", body, e)
			}
		}
		if want.valid() {
			t.Fatalf("%q reads as a valid request but was refused: %s", body, w.Body)
		}
	case http.StatusUnauthorized:
		// Only an agent request without the right key.
		if !want.valid() || want.role != 2 || auth == 1 || w.Header().Get("WWW-Authenticate") == "" {
			t.Fatalf("%q (auth %d): 401 %s", body, auth, w.Body)
		}
	default:
		// 413 needs 64 KiB, 403 a cross-origin page, 429 a second request
		// and 503 a missing secret: none of them happen here.
		t.Fatalf("%q (auth %d): status %d %s", body, auth, w.Code, w.Body)
	}
}

// tokenRequestReading is the test's own reading of a token request body,
// written from the documented request shape (handler.go), not from parse.
type tokenRequestReading struct {
	object, roleOK, ttlSet, ttlOK, pinSet, pinOK, userOK bool
	role, ttl                                            int64
	userID, pin                                          string
	// plainName is the expected user_name when the body's name needs no
	// cleaning (printable ASCII, single inner spaces, 80 characters or
	// fewer); empty otherwise.
	plainName string
}

// valid reports whether the documented rules accept the request.
func (q tokenRequestReading) valid() bool {
	return q.object && q.roleOK && (!q.ttlSet || q.ttlOK) && (!q.pinSet || q.pinOK) && q.userOK
}

func readTokenRequest(body []byte) tokenRequestReading {
	var q tokenRequestReading
	m, ok := readObject(body)
	if !ok {
		return q
	}
	q.object = true
	q.role, q.roleOK = wholeNumber(m["role"])
	q.roleOK = q.roleOK && (q.role == 1 || q.role == 2)
	if v, ok := m["expirationSeconds"]; ok && v != nil {
		q.ttlSet = true
		q.ttl, q.ttlOK = wholeNumber(v)
		q.ttlOK = q.ttlOK && q.ttl >= 1800 && q.ttl <= 172800
	}
	if v, ok := m["customPinCode"]; ok && v != nil {
		q.pinSet = true
		q.pin, q.pinOK = v.(string)
		q.pinOK = q.pinOK && len(q.pin) >= 1 && len(q.pin) <= 10 && strings.Trim(q.pin, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
	}
	q.userOK = true
	switch v := m["userId"].(type) {
	case nil:
	case string:
		q.userID = v
		q.userOK = v == "" || validUserID(v)
	default:
		q.userOK = false
	}
	switch v := m["userName"].(type) {
	case nil:
	case string:
		if len(v) <= 80 && v == strings.TrimSpace(v) && !strings.Contains(v, "  ") && strings.Trim(v, " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") == "" {
			q.plainName = v
		}
	default:
		q.userOK = false
	}
	if q.plainName == "" && q.userID != "" && validUserID(q.userID) && q.roleOK && q.role == 1 {
		// No usable name: user_name falls back to the user id, which is
		// printable here only when it is plain ASCII too.
		if _, isStr := m["userName"].(string); !isStr && strings.Trim(q.userID, "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") == "" && len(q.userID) <= 80 {
			q.plainName = q.userID
		}
	}
	return q
}

// readObject reads body as one JSON object into the five request fields
// by name. As encoding/json does, a key matches a field whatever its case
// ("ROLE" is "role"), a repeated key's last value wins and null is absent.
// After the object, only what json.Decoder.More does not count as another
// value may follow (white space, or a stray ']' or '}').
func readObject(body []byte) (map[string]any, bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	m := map[string]any{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, false
		}
		k, _ := tok.(string)
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, false
		}
		for _, f := range []string{"role", "userId", "userName", "expirationSeconds", "customPinCode"} {
			if strings.EqualFold(k, f) {
				m[f] = v
			}
		}
	}
	if tok, err := d.Token(); err != nil || tok != json.Delim('}') || d.More() {
		return nil, false
	}
	return m, true
}

// wholeNumber reads a JSON number or a string holding a base-10 integer
// (surrounding white space allowed), as Zoom's sample does.
func wholeNumber(v any) (int64, bool) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = string(v)
	case string:
		s = strings.TrimSpace(v)
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// validUserID: 1 to 128 characters of valid UTF-8, no control or format
// characters.
func validUserID(s string) bool {
	return strings.TrimFunc(s, unicode.IsSpace) != "" && utf8.ValidString(s) && utf8.RuneCountInString(s) <= 128 && displayable(s)
}

// displayable reports valid UTF-8 without control (Cc) or format (Cf)
// characters.
func displayable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

func generatedID(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(s) == 22 && len(b) == 16
}

// FuzzSessionCookie: a forged value (anything not issued here) is refused;
// an issued cookie round-trips to the same identity; changing any one byte
// of it makes it refused, unless the change only flips the unused low bits
// of the last base64 character (the decoded body and MAC are then the same
// bytes, so it is the same session); and it is refused once expired or
// signed out.
func FuzzSessionCookie(f *testing.F) {
	f.Add("eyJ2IjoxfQ.AAAA", "alice@example.com", "Alice Example", uint16(0), byte(1))
	f.Add("..", "bob", "", uint16(5), byte(0x20))
	f.Add("x", "ágent-ü", "  Name\twith  spaces ", uint16(100), byte(0xff))
	f.Add("", "", "x", uint16(3), byte(2))
	f.Add("a.b", "id\u200bzero-width", "n", uint16(65535), byte(0x80))
	f.Add(strings.Repeat("a", 3000), strings.Repeat("x", 129), strings.Repeat("y", 2000), uint16(7), byte(4))
	key := []byte("0123456789abcdef0123456789abcdef")
	f.Fuzz(func(t *testing.T, forged, userID, name string, at uint16, flip byte) {
		now := time.Unix(1_800_000_000, 0)
		s := NewSessions(SessionOptions{Key: key, TTL: time.Hour, Now: func() time.Time { return now }})
		if id, ok := s.Agent(withCookie(forged)); ok {
			t.Fatalf("forged cookie %q accepted as %+v", forged, id)
		}

		w := httptest.NewRecorder()
		if err := s.Issue(w, Identity{UserID: userID, UserName: name, Method: MethodKey}); err != nil {
			// Issue refuses only an identity whose cookie would pass
			// maxCookieLen (2048): the payload's JSON is then over about
			// 1,500 bytes, of which the other fields take under 200. JSON
			// length, not input length: invalid UTF-8 is written as
			// \ufffd, six bytes for one.
			js, _ := json.Marshal([]string{userID, name})
			if len(js) < 1300 {
				t.Fatalf("Issue(%q, %q): %v", userID, name, err)
			}
			return
		}
		var value string
		for _, c := range w.Result().Cookies() {
			if c.Name == SessionCookie {
				value = c.Value
			}
		}
		if value == "" {
			t.Fatalf("no %s cookie in %v", SessionCookie, w.Header())
		}
		id, ok := s.Agent(withCookie(value))
		switch {
		case !validUserID(userID):
			if ok && utf8.ValidString(userID) {
				t.Fatalf("cookie for the invalid user id %q accepted as %+v", userID, id)
			}
			return // callers issue cookies only for valid ids
		case !ok:
			t.Fatalf("issued cookie %q for %q refused", value, userID)
		case id.UserID != userID || id.Method != MethodSession || id.Via != MethodKey:
			t.Fatalf("cookie for %q (via key) comes back as %+v", userID, id)
		case utf8.ValidString(name) && id.UserName != CleanName(name, MaxUserNameLen),
			!displayable(id.UserName) || utf8.RuneCountInString(id.UserName) > 80:
			// Invalid UTF-8 comes back with one U+FFFD per bad byte (JSON's
			// replacement) rather than one per run (CleanName's): only
			// cleanliness is checked for it.
			t.Fatalf("user name %q comes back as %q", name, id.UserName)
		}

		i := int(at) % len(value)
		b := []byte(value)
		b[i] ^= max(flip, 1)
		tampered := string(b)
		if id, ok := s.Agent(withCookie(tampered)); ok && !sameDecoding(value, tampered) {
			t.Fatalf("cookie with byte %d changed (%q -> %q) accepted as %+v", i, value[i], tampered[i], id)
		}
		if other := NewSessions(SessionOptions{Key: []byte("another-key-another-key-another!"), Now: func() time.Time { return now }}); true {
			if _, ok := other.Agent(withCookie(value)); ok {
				t.Fatal("cookie accepted under another key")
			}
		}

		now = now.Add(time.Hour)
		if _, ok := s.Agent(withCookie(value)); ok {
			t.Fatal("cookie accepted at its expiry")
		}
		now = now.Add(-time.Second)
		if _, ok := s.Agent(withCookie(value)); !ok {
			t.Fatal("cookie refused one second before its expiry")
		}
		s.Revoke(withCookie(value))
		if _, ok := s.Agent(withCookie(value)); ok {
			t.Fatal("cookie accepted after sign-out")
		}
	})
}

// sameDecoding reports whether two cookie values decode to the same body
// and MAC bytes (base64 without padding ignores the last character's
// unused low bits).
func sameDecoding(a, b string) bool {
	ab, as, ok1 := strings.Cut(a, ".")
	bb, bs, ok2 := strings.Cut(b, ".")
	if !ok1 || !ok2 || ab != bb {
		return false
	}
	x, err1 := base64.RawURLEncoding.DecodeString(as)
	y, err2 := base64.RawURLEncoding.DecodeString(bs)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func withCookie(v string) *http.Request {
	// Set raw, as an attacker sends it: AddCookie would drop bytes.
	return &http.Request{Header: http.Header{"Cookie": {SessionCookie + "=" + v}}}
}
