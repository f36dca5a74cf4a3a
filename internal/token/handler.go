package token

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/ratelimit"
)

// Service is everything the token package serves, built from one Options.
type Service struct {
	Minter   *Minter
	Agents   *AgentAuth
	Sessions *Sessions
	// Token serves POST {prefix}/token.
	Token *Handler
	// Login serves POST {prefix}/agent/login; Logout POST {prefix}/agent/logout.
	Login  http.Handler
	Logout http.Handler
}

// New applies defaults to o, validates it (returning every problem) and
// builds the service.
func New(o Options) (*Service, error) {
	o.SetDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	sess := NewSessions(SessionOptions{
		Secret: o.Secret, Key: o.Agent.SessionKey, TTL: o.Agent.SessionTTL,
		Path: o.Prefix + "/", Insecure: o.Agent.InsecureCookie, Now: o.Now,
		Revoked: o.Agent.Revoked,
	})
	minter := NewMinter(o.SDKKey, o.Secret, o.Now)
	agents := NewAgentAuth(o.Agent.Keys, o.Agent.Identity, o.PeerAddr, sess)
	h := &Handler{
		minter: minter, agents: agents, opts: o,
		customers: ratelimit.New(o.CustomerRate, o.Now, ratelimit.Shared(o.Redis, ratelimit.NameTokenCustomer)),
		agentFail: ratelimit.New(o.Agent.Rate, o.Now, ratelimit.Shared(o.Redis, ratelimit.NameTokenAgentFail)),
		agentRate: ratelimit.NewKeyed[string](o.Agent.IdentityRate, o.Now, ratelimit.Shared(o.Redis, ratelimit.NameTokenAgent)),
	}
	return &Service{
		Minter: minter, Agents: agents, Sessions: sess, Token: h,
		Login:  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.login(w, r, sess) }),
		Logout: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.logout(w, r, sess) }),
	}, nil
}

// Handler serves POST {prefix}/token with the request and response shapes
// of Zoom's auth sample:
//
//	request:  {"role": 1|2|"1"|"2", "userId"?: string, "userName"?: string,
//	           "expirationSeconds"?: 1800..172800 (number or string),
//	           "customPinCode"?: ^[A-Za-z0-9]{1,10}$ (BYOP only)}
//	200:      {"token": "<jwt>", "expiresAt": <unix seconds>, "pinCode"?: "ABC123"}
//	4xx/5xx:  {"errors": [{"property": "role", "reason": "..."}]}
//
// Every response is Cache-Control: no-store and carries no CORS header. A
// customer token needs a same-origin browser request and a free slot in the
// client's rate limit; an agent token needs agent authentication, and the
// agent's user_id and user_name come from that, never from the body.
type Handler struct {
	minter    *Minter
	agents    *AgentAuth
	customers *ratelimit.Limiter
	agentFail *ratelimit.Limiter       // failed agent authentications, per client address
	agentRate *ratelimit.Keyed[string] // agent token requests, per authenticated agent
	opts      Options
}

type fieldError struct {
	Property string `json:"property"`
	Reason   string `json:"reason"`
}

type tokenResponse struct {
	Token     string `json:"token"`
	ExpiresAt int64  `json:"expiresAt"`
	PinCode   string `json:"pinCode,omitempty"`
}

type tokenRequest struct {
	Role              json.RawMessage `json:"role"`
	UserID            json.RawMessage `json:"userId"`
	UserName          json.RawMessage `json:"userName"`
	ExpirationSeconds json.RawMessage `json:"expirationSeconds"`
	CustomPinCode     json.RawMessage `json:"customPinCode"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, 0, http.StatusMethodNotAllowed, ReasonMethod, fieldError{"method", "use POST"})
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		h.refuse(w, r, 0, http.StatusUnsupportedMediaType, ReasonMediaType, fieldError{"Content-Type", "must be application/json"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.refuse(w, r, 0, http.StatusRequestEntityTooLarge, ReasonTooLarge, fieldError{"body", "larger than " + strconv.FormatInt(h.opts.MaxBodyBytes, 10) + " bytes"})
			return
		}
		h.refuse(w, r, 0, http.StatusBadRequest, ReasonBadRequest, fieldError{"body", "could not be read"})
		return
	}
	req, errs := h.parse(body)
	if len(errs) > 0 {
		h.refuse(w, r, req.role, http.StatusBadRequest, ReasonBadRequest, errs...)
		return
	}
	switch req.role {
	case RoleCustomer:
		h.customer(w, r, req)
	case RoleAgent:
		h.agent(w, r, req)
	}
}

func (h *Handler) customer(w http.ResponseWriter, r *http.Request, req parsed) {
	if !SameOrigin(r, h.opts.Scheme(r)) {
		h.refuse(w, r, RoleCustomer, http.StatusForbidden, ReasonCrossOrigin, fieldError{"origin", ReasonCrossOrigin})
		return
	}
	if !h.allow(w, r, h.customers, RoleCustomer) {
		return
	}
	if req.userID == "" {
		req.userID = NewUserID()
	}
	c := Claims{Role: RoleCustomer, UserID: req.userID, UserName: req.userName, TTL: req.ttl, BYOP: h.opts.BYOP}
	pin := ""
	if h.opts.BYOP {
		pin = req.pin
		if pin == "" {
			pin = NewPIN()
		}
	}
	h.mint(w, r, c, pin)
}

func (h *Handler) agent(w http.ResponseWriter, r *http.Request, req parsed) {
	if !h.agents.Configured() {
		h.refuse(w, r, RoleAgent, http.StatusForbidden, ReasonUnauthenticated, fieldError{"role", "agent tokens are disabled: no agent authentication is configured"})
		return
	}
	if !h.allowTry(w, r) {
		return
	}
	id, ok := h.agents.Authenticate(r)
	if !ok {
		h.agentFail.Allow(h.opts.ClientAddr(r))
		w.Header().Set("WWW-Authenticate", `Bearer realm="cobrowse-proxy agent"`)
		h.refuse(w, r, RoleAgent, http.StatusUnauthorized, ReasonUnauthenticated, fieldError{"authorization", ReasonUnauthenticated})
		return
	}
	// The session cookie and an auth proxy's cookie ride along with any
	// request the browser makes; refuse those that say they are cross-site.
	if id.Method != MethodKey && !notCrossOrigin(r, h.opts.Scheme(r)) {
		h.refuse(w, r, RoleAgent, http.StatusForbidden, ReasonCrossOrigin, fieldError{"origin", ReasonCrossOrigin})
		return
	}
	if ok, wait := h.agentRate.Allow(id.Method + ":" + id.UserID); !ok {
		h.tooMany(w, r, RoleAgent, wait)
		return
	}
	h.mint(w, r, Claims{Role: RoleAgent, UserID: id.UserID, UserName: id.UserName, TTL: req.ttl}, "")
}

func (h *Handler) mint(w http.ResponseWriter, r *http.Request, c Claims, pin string) {
	tok, exp, err := h.minter.Mint(c)
	if err != nil {
		// err names the secret's file and the cause, never its content.
		h.opts.Logger.LogAttrs(r.Context(), slog.LevelError, "token not issued", slog.String("role", c.Role.String()), slog.String("error", err.Error()))
		h.refuse(w, r, c.Role, http.StatusServiceUnavailable, ReasonUnavailable, fieldError{"token", "signing is unavailable, try again later"})
		return
	}
	h.opts.Metrics.issued(c.Role)
	h.opts.Logger.LogAttrs(r.Context(), slog.LevelDebug, "token issued", slog.String("role", c.Role.String()),
		slog.String("client", h.opts.ClientAddr(r).String()), slog.Int64("expires", exp.Unix()))
	writeJSON(w, http.StatusOK, tokenResponse{Token: tok, ExpiresAt: exp.Unix(), PinCode: pin})
}

// allow applies a rate limit, answering 429 with Retry-After when it bites.
func (h *Handler) allow(w http.ResponseWriter, r *http.Request, l *ratelimit.Limiter, role Role) bool {
	ok, wait := l.Allow(h.opts.ClientAddr(r))
	if !ok {
		h.tooMany(w, r, role, wait)
	}
	return ok
}

// allowTry answers 429 when the client has used up its failed agent
// authentications. It takes nothing: only a failure is charged, after it.
func (h *Handler) allowTry(w http.ResponseWriter, r *http.Request) bool {
	ok, wait := h.agentFail.Check(h.opts.ClientAddr(r))
	if !ok {
		h.tooMany(w, r, RoleAgent, wait)
	}
	return ok
}

func (h *Handler) tooMany(w http.ResponseWriter, r *http.Request, role Role, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(wait), 10))
	h.refuse(w, r, role, http.StatusTooManyRequests, ReasonRateLimited, fieldError{"client", ReasonRateLimited})
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, role Role, status int, reason string, errs ...fieldError) {
	h.opts.Metrics.refused(role, reason)
	h.log(r.Context(), "token refused", role, reason, r)
	writeJSON(w, status, struct {
		Errors []fieldError `json:"errors"`
	}{errs})
}

func (h *Handler) log(ctx context.Context, msg string, role Role, reason string, r *http.Request) {
	h.opts.Logger.LogAttrs(ctx, slog.LevelDebug, msg, slog.String("role", role.String()),
		slog.String("reason", reason), slog.String("client", h.opts.ClientAddr(r).String()))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// pinAlphabet has no 0/O or 1/I, since the customer may read the PIN out
// loud; 32 symbols, so a random byte maps onto it without bias.
const pinAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// NewPIN returns a random 10-character BYOP PIN (about 50 bits), used when
// the page sends no customPinCode.
func NewPIN() string {
	var b [10]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = pinAlphabet[int(b[i])%len(pinAlphabet)]
	}
	return string(b[:])
}
