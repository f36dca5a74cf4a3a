package demo

import (
	"net/http"
	"strings"
)

// maxCheckoutForm bounds the checkout body; the real form is well under 1 KiB.
const maxCheckoutForm = 64 << 10

// thanks is what the thank-you page may show. It deliberately has no field
// for the card, expiry, CVC or SSN: the demo never sends sensitive values
// back, so whatever appears in a cobrowse session came from the form itself
// and shows whether masking works.
type thanks struct {
	Name  string
	Email string
}

// checkoutCSP is the strict policy a careful shop sends on its payment
// page; through the proxy it arrives merged with the sources cobrowse needs.
const checkoutCSP = "default-src 'self'; img-src 'self' data:; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"

func (s *shop) checkout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", checkoutCSP)
	s.render(w, r, http.StatusOK, "checkout", "Checkout · Acme Outdoor Shop", nil)
}

func (s *shop) checkoutSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxCheckoutForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "could not read the checkout form: "+err.Error(), http.StatusBadRequest)
		return
	}
	data := thanks{
		Name:  clip(strings.TrimSpace(r.PostForm.Get("name")), 80),
		Email: clip(strings.TrimSpace(r.PostForm.Get("email")), 120),
	}
	if data.Name == "" {
		data.Name = "friend"
	}
	s.render(w, r, http.StatusOK, "thanks", "Thank you · Acme Outdoor Shop", data)
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}
