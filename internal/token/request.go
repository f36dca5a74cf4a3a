package token

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// parsed is a validated token request.
type parsed struct {
	role     Role
	userID   string // empty: generate
	userName string // cleaned; empty: the user id
	ttl      time.Duration
	pin      string // upper-cased; empty: none sent
}

// parse validates the body and returns every problem, one per field, in the
// order of the sample's fields. Unknown fields are ignored, as the sample
// does, so front-ends that send more keep working.
func (h *Handler) parse(body []byte) (parsed, []fieldError) {
	p := parsed{ttl: h.opts.TTL}
	var req tokenRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || dec.More() {
		return p, []fieldError{{"body", "must be one JSON object"}}
	}
	var errs []fieldError
	bad := func(prop, format string, args ...any) {
		errs = append(errs, fieldError{prop, fmt.Sprintf(format, args...)})
	}

	switch n, present, err := intField(req.Role); {
	case !present:
		bad("role", "is required: 1 (customer) or 2 (agent)")
	case err != nil || (n != 1 && n != 2):
		bad("role", "must be 1 (customer) or 2 (agent)")
	default:
		p.role = Role(n)
	}

	switch s, present, err := stringField(req.UserID); {
	case err != nil:
		bad("userId", "must be a string")
	case present && s != "":
		if e := checkUserID(s); e != nil {
			bad("userId", "%v", e)
		}
		p.userID = s
	}

	switch s, _, err := stringField(req.UserName); {
	case err != nil:
		bad("userName", "must be a string")
	default:
		p.userName = CleanName(s, MaxUserNameLen)
	}

	switch n, present, err := intField(req.ExpirationSeconds); {
	case !present:
	case err != nil || n < int64(MinTTL/time.Second) || n > int64(MaxTTL/time.Second):
		bad("expirationSeconds", "must be a whole number from %d to %d", int64(MinTTL/time.Second), int64(MaxTTL/time.Second))
	default:
		p.ttl = time.Duration(n) * time.Second
	}

	switch s, present, err := stringField(req.CustomPinCode); {
	case !present:
	case err != nil || !validPIN(s):
		bad("customPinCode", "must be 1 to 10 letters or digits")
	case !h.opts.BYOP:
		bad("customPinCode", "bring-your-own-PIN is not enabled on this server")
	default:
		p.pin = strings.ToUpper(s)
	}
	return p, errs
}

// intField reads a JSON number or a string holding a base-10 integer (the
// sample parses both); present is false for a missing field or null.
func intField(raw json.RawMessage) (n int64, present bool, err error) {
	if isAbsent(raw) {
		return 0, false, nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return 0, true, err
	}
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	default:
		return 0, true, fmt.Errorf("not a number")
	}
	n, err = strconv.ParseInt(s, 10, 64)
	return n, true, err
}

// stringField reads a JSON string; null and absence are "not present".
func stringField(raw json.RawMessage) (s string, present bool, err error) {
	if isAbsent(raw) {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, err
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s, true, nil
}

func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// validPIN matches ^[A-Za-z0-9]{1,10}$, Zoom's BYOP PIN format.
func validPIN(s string) bool {
	if len(s) < 1 || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
