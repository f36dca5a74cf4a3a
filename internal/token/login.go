package token

import (
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/ratelimit"
)

// LoginField is the form field of the agent sign-in form that carries the
// access key.
const LoginField = "key"

// login serves POST {prefix}/agent/login: a form (application/x-www-form-
// urlencoded) with the access key in LoginField. A good key gets the
// session cookie and a 303 to {prefix}/agent. A wrong key or too many
// attempts also gets a 303 there, with ?error=invalid_key or
// ?error=rate_limited for the page to show, so the agent sees a page, not
// JSON. Requests that no sign-in form of this site sends (wrong method, type,
// size, or from another origin: the CSRF check) get the JSON error shapes.
func (h *Handler) login(w http.ResponseWriter, r *http.Request, sess *Sessions) {
	w.Header().Set("Cache-Control", "no-store")
	if !h.formPost(w, r) {
		return
	}
	if len(h.agents.hashes) == 0 {
		h.refuse(w, r, RoleAgent, http.StatusForbidden, ReasonUnauthenticated, fieldError{LoginField, "sign-in with access keys is not configured"})
		return
	}
	desk := h.opts.Prefix + "/agent"
	if ok, wait := h.agentFail.Check(h.opts.ClientAddr(r)); !ok {
		h.opts.Metrics.refused(RoleAgent, ReasonRateLimited)
		h.log(r.Context(), "agent sign-in refused", RoleAgent, ReasonRateLimited, r)
		w.Header().Set("Retry-After", strconv.FormatInt(ratelimit.RetryAfterSeconds(wait), 10))
		http.Redirect(w, r, desk+"?error="+ReasonRateLimited, http.StatusSeeOther)
		return
	}
	id, ok := h.agents.VerifyKey(r.PostForm.Get(LoginField))
	if !ok {
		h.agentFail.Allow(h.opts.ClientAddr(r)) // only failures are charged
		h.opts.Metrics.refused(RoleAgent, ReasonUnauthenticated)
		h.log(r.Context(), "agent sign-in refused", RoleAgent, ReasonUnauthenticated, r)
		http.Redirect(w, r, desk+"?error=invalid_key", http.StatusSeeOther)
		return
	}
	if err := sess.Issue(w, id); err != nil {
		// No SDK secret (the demo without ZOOM_SDK_SECRET) or an unreadable
		// secret file: the agent gets a page that says what to set, not JSON.
		h.opts.Metrics.refused(RoleAgent, ReasonUnavailable)
		h.opts.Logger.LogAttrs(r.Context(), slog.LevelError, "agent session not issued", slog.String("error", err.Error()))
		http.Redirect(w, r, desk+"?error="+ReasonUnavailable, http.StatusSeeOther)
		return
	}
	h.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "agent signed in", slog.String("agent", id.UserID),
		slog.String("client", h.opts.ClientAddr(r).String()))
	http.Redirect(w, r, desk, http.StatusSeeOther)
}

// logout serves POST {prefix}/agent/logout: revokes the session here (a
// copy of the cookie stops working too), clears it in the browser, 303 to
// the desk.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, sess *Sessions) {
	w.Header().Set("Cache-Control", "no-store")
	if !h.formPost(w, r) {
		return
	}
	sess.Revoke(r)
	sess.Clear(w)
	http.Redirect(w, r, h.opts.Prefix+"/agent", http.StatusSeeOther)
}

// formPost checks method, media type, size and origin of a form post and
// parses it, answering the request itself when a check fails. The origin
// check is the CSRF defence: a browser sends Origin on every POST, and
// Sec-Fetch-Site where it can.
func (h *Handler) formPost(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, RoleAgent, http.StatusMethodNotAllowed, ReasonMethod, fieldError{"method", "use POST"})
		return false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		h.refuse(w, r, RoleAgent, http.StatusUnsupportedMediaType, ReasonMediaType, fieldError{"Content-Type", "must be application/x-www-form-urlencoded"})
		return false
	}
	if !SameOrigin(r, h.opts.Scheme(r)) {
		h.refuse(w, r, RoleAgent, http.StatusForbidden, ReasonCrossOrigin, fieldError{"origin", ReasonCrossOrigin})
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.refuse(w, r, RoleAgent, http.StatusRequestEntityTooLarge, ReasonTooLarge, fieldError{"body", "too large"})
		} else {
			h.refuse(w, r, RoleAgent, http.StatusBadRequest, ReasonBadRequest, fieldError{"body", "not a valid form"})
		}
		return false
	}
	return true
}
