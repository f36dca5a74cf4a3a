package demo

import (
	"bytes"
	"html/template"
	"log/slog"
	"net/http"
)

// Widgets returns the handler of the second demo host (a support-chat-like
// page shown in an iframe on the shop). It is a separate host so the iframe
// is cross-origin, the case where the loader must be injected into the
// frame's own document for a cobrowse session to see inside it.
func Widgets(logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	chat := template.Must(template.ParseFS(content, "templates/chat.html"))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /chat", func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if err := chat.Execute(&buf, nil); err != nil {
			logger.Error("demo: render widgets chat", "err", err)
			http.Error(w, "demo chat failed to render; see the log", http.StatusInternalServerError)
			return
		}
		writeHTML(w, http.StatusOK, buf.Bytes())
	})
	mux.Handle("GET /static/", staticHandler("static/widgets"))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/chat", http.StatusFound)
	})
	return mux
}
