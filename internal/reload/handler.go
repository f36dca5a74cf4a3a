package reload

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/cobrowse-proxy/cobrowse-proxy/config"
)

// reloadResult is POST /-/reload's answer.
type reloadResult struct {
	Status     string   `json:"status"` // "reloaded" or "refused"
	ConfigHash string   `json:"configHash,omitempty"`
	Problems   []string `json:"problems,omitempty"`
	Restart    []string `json:"needsRestart,omitempty"`
}

// Handler serves POST /-/reload on the admin listener: 200 with the new
// config's hash, 400 with every problem when the config is refused (the
// old one keeps serving), 409 when a reload is already running. The body
// is ignored.
func (r *Reloader) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		err := r.TryReload(TriggerAPI)
		res, code := reloadResult{Status: "reloaded"}, http.StatusOK
		switch {
		case errors.Is(err, ErrBusy):
			res, code = reloadResult{Status: "busy", Problems: []string{err.Error()}}, http.StatusConflict
		case err != nil:
			res.Status, code = "refused", http.StatusBadRequest
			var es config.Errors
			if errors.As(err, &es) {
				for _, e := range es {
					res.Problems = append(res.Problems, e.Error())
				}
			} else {
				res.Problems = []string{err.Error()}
			}
		default:
			res.ConfigHash, res.Restart = r.Current().Hash, r.NeedsRestart()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(res)
	})
}
