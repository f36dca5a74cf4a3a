package server

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
	"github.com/cobrowse-proxy/cobrowse-proxy/internal/web"
)

// PolicyView is the effective masking policy of every site, as `cobrowse-proxy
// policy` prints it and the admin listener serves it at GET /policy.
type PolicyView struct {
	// ConfigHash is the SHA-256 of the config file in force.
	ConfigHash string `json:"configHash,omitempty"`
	// Policy names the security team's policy file, when there is one.
	Policy *PolicyFile  `json:"policyFile,omitempty"`
	Sites  []SitePolicy `json:"sites"`
}

// PolicyFile identifies masking.policyFile's revision.
type PolicyFile struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Hash    string `json:"hash"`
}

// SitePolicy is one site's effective masking policy.
type SitePolicy struct {
	Site string `json:"site"`
	// Selectors and Attributes are the policy file's, then the config's
	// central ones, then the site's additions.
	Selectors  []string `json:"selectors"`
	Attributes []string `json:"attributes"`
	// AutoMaskSelectors are added by masking.autoMaskSensitiveInputs.
	AutoMaskSelectors []string `json:"autoMaskSelectors"`
	// PIIMask is the setting exactly as bootstrap.js passes it to
	// ZoomCobrowseSDK.init (the widget's own class included).
	PIIMask any `json:"piiMask"`
	// Bootstrap is bootstrap.js's version (its ?v=), which changes with
	// the policy, so browsers pick a new policy up on their next page.
	Bootstrap string `json:"bootstrapVersion"`
}

// policyView builds the view of cfg from the sites' rendered bootstrap.js.
func policyView(cfg *config.Config, bootstraps []*web.Bootstrap) PolicyView {
	v := PolicyView{ConfigHash: cfg.Hash, Sites: make([]SitePolicy, 0, len(cfg.Sites))}
	if m := cfg.Masking; m.PolicyFile != "" {
		v.Policy = &PolicyFile{Path: m.PolicyFile, Version: m.Policy.Version, Hash: m.Policy.Hash}
	}
	for i, s := range cfg.Sites {
		sel, attrs := cfg.SiteMask(i)
		sp := SitePolicy{Site: s.Name, Selectors: sel, Attributes: attrs, AutoMaskSelectors: []string{}}
		if a := cfg.Masking.AutoMaskSensitiveInputs; a == nil || *a {
			sp.AutoMaskSelectors = slices.Clone(sensitiveInputs)
		}
		if i < len(bootstraps) && bootstraps[i] != nil {
			sp.PIIMask, sp.Bootstrap = bootstraps[i].PIIMask(), bootstraps[i].Version()
		}
		v.Sites = append(v.Sites, sp)
	}
	return v
}

// Site returns the view narrowed to one site, and whether it exists.
func (v PolicyView) Site(name string) (PolicyView, bool) {
	for _, s := range v.Sites {
		if s.Site == name {
			v.Sites = []SitePolicy{s}
			return v, true
		}
	}
	return v, false
}

// PolicyHandler serves the effective policy of the config in force as
// JSON (GET /policy on the admin listener; ?site=NAME for one site).
func (l *Live) PolicyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := l.Router().Policy()
		if name := r.URL.Query().Get("site"); name != "" {
			var ok bool
			if v, ok = v.Site(name); !ok {
				http.Error(w, "no site has that name", http.StatusNotFound)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	})
}
