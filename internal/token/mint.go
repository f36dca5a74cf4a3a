package token

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Role is the Cobrowse role_type claim.
type Role int

const (
	// RoleCustomer is the person sharing their page.
	RoleCustomer Role = 1
	// RoleAgent is the support person viewing it.
	RoleAgent Role = 2
)

// String is the role's metric label.
func (r Role) String() string {
	switch r {
	case RoleCustomer:
		return "customer"
	case RoleAgent:
		return "agent"
	}
	return "unknown"
}

// Token lifetimes Zoom accepts (exp - iat), and the default of its sample.
const (
	MinTTL     = 30 * time.Minute
	MaxTTL     = 48 * time.Hour
	DefaultTTL = 2 * time.Hour
)

// Limits on the user claims. Zoom shows user_name and allows at most 80
// characters; user_id has no documented limit, 128 keeps tokens small.
const (
	MaxUserNameLen = 80
	MaxUserIDLen   = 128
)

// Claims is what a caller asks the Minter for.
type Claims struct {
	Role     Role
	UserID   string // required; unique per user within a session
	UserName string // cleaned and cut to MaxUserNameLen; empty: UserID
	TTL      time.Duration
	// BYOP adds enable_byop: 1 (bring your own PIN). Zoom reads it only in
	// customer tokens; the Handler sets it only for those.
	BYOP bool
}

// Minter signs Cobrowse JWTs (HS256) with the SDK secret.
//
// The claims are exactly the ones docs/zoom.md lists, with the JSON types Zoom
// checks: role_type, iat, exp and enable_byop are numbers, never strings.
type Minter struct {
	sdkKey string
	secret SecretSource
	now    func() time.Time
}

// NewMinter returns a Minter for the SDK key; now is the clock (nil: time.Now).
func NewMinter(sdkKey string, secret SecretSource, now func() time.Time) *Minter {
	if now == nil {
		now = time.Now
	}
	return &Minter{sdkKey: sdkKey, secret: secret, now: now}
}

// Mint returns a signed token and its expiry. It refuses (and signs nothing)
// when the claims are out of Zoom's range or the secret is unavailable; the
// error never contains the secret.
func (m *Minter) Mint(c Claims) (string, time.Time, error) {
	if c.Role != RoleCustomer && c.Role != RoleAgent {
		return "", time.Time{}, fmt.Errorf("mint token: role_type %d is not 1 or 2", c.Role)
	}
	if err := CheckTTL(c.TTL); err != nil {
		return "", time.Time{}, fmt.Errorf("mint token: %w", err)
	}
	if err := checkUserID(c.UserID); err != nil {
		return "", time.Time{}, fmt.Errorf("mint token: user_id %w", err)
	}
	if m.sdkKey == "" {
		return "", time.Time{}, errors.New("mint token: sdk key is empty")
	}
	name := CleanName(c.UserName, MaxUserNameLen)
	if name == "" {
		name = CleanName(c.UserID, MaxUserNameLen)
	}
	secret, err := m.secret.Secret()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("mint token: %w", err)
	}
	defer clear(secret)
	if len(secret) == 0 {
		return "", time.Time{}, fmt.Errorf("mint token: %w", ErrNoSecret)
	}
	iat := m.now().Unix()
	exp := iat + int64(c.TTL/time.Second)
	claims := jwt.MapClaims{
		"app_key":   m.sdkKey,
		"role_type": int(c.Role),
		"user_id":   c.UserID,
		"user_name": name,
		"iat":       iat,
		"exp":       exp,
	}
	if c.BYOP {
		claims["enable_byop"] = 1
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		// golang-jwt's errors name the method or key type, never the key.
		return "", time.Time{}, fmt.Errorf("mint token: sign: %w", err)
	}
	return signed, time.Unix(exp, 0), nil
}

// CheckTTL reports whether d is a lifetime Zoom accepts: whole seconds
// within MinTTL..MaxTTL.
func CheckTTL(d time.Duration) error {
	if d < MinTTL || d > MaxTTL {
		return fmt.Errorf("lifetime %s is outside %s..%s", d, MinTTL, MaxTTL)
	}
	if d%time.Second != 0 {
		return fmt.Errorf("lifetime %s is not a whole number of seconds", d)
	}
	return nil
}

func checkUserID(id string) error {
	switch {
	case id == "":
		return errors.New("is empty")
	case utf8.RuneCountInString(id) > MaxUserIDLen:
		return fmt.Errorf("is longer than %d characters", MaxUserIDLen)
	case !utf8.ValidString(id):
		return errors.New("is not valid UTF-8")
	case strings.IndexFunc(id, invisible) >= 0:
		return errors.New("contains control characters")
	case strings.TrimFunc(id, unicode.IsSpace) == "":
		// Blank: the name shown to the other side would be empty.
		return errors.New("is blank")
	}
	return nil
}

// CleanName makes a display name safe to show: invalid UTF-8 is replaced,
// control and format characters (C0/C1 controls, bidi overrides, zero-width
// characters) are removed, runs of white space become one space, the ends
// are trimmed, and the result is cut to max characters (runes).
func CleanName(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		if n >= max {
			break
		}
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case invisible(r):
			continue
		}
		if space {
			if n+1 >= max {
				break
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// invisible reports control (Cc) and format (Cf) characters.
func invisible(r rune) bool { return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) }

// NewUserID returns a random, URL-safe user id (128 bits, 22 characters),
// for customers that send none: Zoom requires user ids to be unique within a
// session and never reused across users.
func NewUserID() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
