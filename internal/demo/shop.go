package demo

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

//go:embed templates static
var content embed.FS

// staticMaxAge is how long browsers may cache the demo's CSS and JS. The
// files only change with the binary and carry no version in their names, so
// it is kept short enough that a rebuilt demo shows up after a reload.
const staticMaxAge = "public, max-age=300"

// options are the knobs tests turn; Shop uses defaultOptions.
type options struct {
	// eventInterval is the time between two server-sent events.
	eventInterval time.Duration
	// maxEvents is how many events one /events stream sends before it
	// ends by itself, so a forgotten tab does not hold a connection open.
	maxEvents int
}

func defaultOptions() options {
	return options{eventInterval: time.Second, maxEvents: 60}
}

// navItem is one link of the shop's navigation bar.
type navItem struct {
	Path  string
	Label string
}

// product is one card on the home page.
type product struct {
	Name  string
	Blurb string
	Price string
	Emoji string
}

// page is what every full-document template receives: the layout uses
// Title, Path and Nav, the page's own block uses Data.
type page struct {
	Title string
	Path  string
	Nav   []navItem
	Data  any
}

// shop serves the demo shop. All fields are set once by newShop and only
// read afterwards, so one shop serves concurrent requests safely.
type shop struct {
	logger     *slog.Logger
	widgetsURL string
	opts       options
	nav        []navItem
	products   []product
	pages      map[string]*template.Template
	fragment   *template.Template
}

// Shop returns the handler of the demo shop. widgetsURL is the absolute base
// URL (as the browser sees it, through the proxy, e.g.
// "http://widgets.localhost:8080") of the second demo host, used by the
// iframe page.
func Shop(logger *slog.Logger, widgetsURL string) http.Handler {
	return newShop(logger, widgetsURL, defaultOptions())
}

func newShop(logger *slog.Logger, widgetsURL string, opts options) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &shop{
		logger:     logger,
		widgetsURL: strings.TrimRight(widgetsURL, "/"),
		opts:       opts,
		nav: []navItem{
			{"/", "Home"},
			{"/checkout", "Checkout"},
			{"/iframe", "Support chat"},
			{"/live", "Live updates"},
			{"/gzip", "Gzip page"},
		},
		products: []product{
			{"Trail Tent 2P", "A two-person tent that pitches in four minutes and weighs under 2 kg.", "$249.00", "⛺"},
			{"Summit Pack 40L", "A 40-litre pack with a ventilated back panel and rain cover.", "$139.00", "🎒"},
			{"Alpine Jacket", "Waterproof, breathable shell with pit zips and a helmet-ready hood.", "$189.00", "🧥"},
			{"Camp Mug", "Double-walled steel mug that keeps coffee hot through sunrise.", "$19.00", "☕"},
		},
		pages:    make(map[string]*template.Template),
		fragment: template.Must(template.ParseFS(content, "templates/fragment.html")),
	}
	for _, name := range []string{"home", "checkout", "thanks", "iframe", "live", "gzip", "notfound"} {
		s.pages[name] = template.Must(template.ParseFS(content, "templates/layout.html", "templates/"+name+".html"))
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /checkout", s.checkout)
	mux.HandleFunc("POST /checkout", s.checkoutSubmit)
	mux.HandleFunc("GET /iframe", s.iframe)
	mux.HandleFunc("GET /fragment", s.fragmentHandler)
	mux.HandleFunc("GET /live", s.live)
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("GET /gzip", s.gzipPage)
	mux.HandleFunc("GET /ws", s.echo)
	mux.Handle("GET /static/", staticHandler("static/shop"))
	mux.HandleFunc("/", s.notFound)
	return mux
}

// staticHandler serves the embedded directory dir under /static/. The file
// server picks the Content-Type from the extension.
func staticHandler(dir string) http.Handler {
	sub, err := fs.Sub(content, dir)
	if err != nil {
		panic("demo: embedded directory " + dir + ": " + err.Error())
	}
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", staticMaxAge)
		files.ServeHTTP(w, r)
	})
}

// render executes a full-document template into a buffer first, so a
// template error becomes a clean 500 instead of half a page.
func (s *shop) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	body, err := s.renderBytes(r, name, title, data)
	if err != nil {
		s.logger.Error("demo: render page", "page", name, "err", err)
		http.Error(w, "demo page failed to render; see the log", http.StatusInternalServerError)
		return
	}
	writeHTML(w, status, body)
}

func (s *shop) renderBytes(r *http.Request, name, title string, data any) ([]byte, error) {
	var buf bytes.Buffer
	err := s.pages[name].ExecuteTemplate(&buf, "layout", page{
		Title: title,
		Path:  r.URL.Path,
		Nav:   s.nav,
		Data:  data,
	})
	return buf.Bytes(), err
}

func writeHTML(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	w.Write(body)
}

func (s *shop) home(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "home", "Acme Outdoor Shop", s.products)
}

func (s *shop) iframe(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "iframe", "Support chat · Acme Outdoor Shop", s.widgetsURL+"/chat")
}

func (s *shop) live(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "live", "Live updates · Acme Outdoor Shop", nil)
}

func (s *shop) notFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, "notfound", "Not found · Acme Outdoor Shop", nil)
}

// fragmentHandler answers the piece of HTML that the home page's "Load
// reviews" button inserts. It is deliberately not a document (no doctype,
// html or head), the way htmx and similar libraries expect, so the proxy
// must leave it alone: a loader injected here would run twice.
func (s *shop) fragmentHandler(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := s.fragment.Execute(&buf, nil); err != nil {
		s.logger.Error("demo: render fragment", "err", err)
		http.Error(w, "demo fragment failed to render; see the log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Vary", "HX-Request")
	writeHTML(w, http.StatusOK, buf.Bytes())
}
