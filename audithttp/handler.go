package audithttp

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/trailkit/audit"
)

// Option configures Handler.
type Option func(*config)

type config struct {
	tenant   func(*http.Request) (string, bool)
	operator bool
	title    string
	log      *slog.Logger

	heartbeat time.Duration // of /api/tail; 0 is defaultHeartbeat (tests set it)
}

// WithTenantFunc makes the handler serve, for each request, the tenant fn
// returns, through Logger.WithTenant; when fn returns false the request is
// refused with 403 (code "forbidden"). Without it the handler serves the
// logger it was given (its tenant, or every tenant for AllTenants).
func WithTenantFunc(fn func(*http.Request) (tenant string, ok bool)) Option {
	return func(c *config) { c.tenant = fn }
}

// WithOperator turns on the endpoints meant for the log's operator, not its
// tenants: /api/verify and /api/checkpoint. They are off by default.
func WithOperator() Option {
	return func(c *config) { c.operator = true }
}

// WithTitle sets the admin page's heading (default "Audit log").
func WithTitle(title string) Option {
	return func(c *config) { c.title = title }
}

// WithErrorLog sets where the handler reports internal errors (the ones
// answered with 500); default slog.Default().
func WithErrorLog(l *slog.Logger) Option {
	return func(c *config) { c.log = l }
}

// Error codes of the JSON API, stable across releases.
const (
	CodeBadRequest  = "bad_request"        // 400: a bad filter, parameter or cursor
	CodeForbidden   = "forbidden"          // 403: no tenant for the request
	CodeNotFound    = "not_found"          // 404: no such event or route
	CodeMethod      = "method_not_allowed" // 405
	CodeUnavailable = "unavailable"        // 503: the log is closed
	CodeInternal    = "internal"           // 500
)

type handler struct {
	l   *audit.Logger
	cfg config
	mux *http.ServeMux
}

// Handler returns the HTTP handler that serves l: the JSON API under
// /api/ and the admin page at /. See the package documentation for the
// routes.
func Handler(l *audit.Logger, opts ...Option) http.Handler {
	h := &handler{l: l, cfg: config{title: "Audit log", log: slog.Default()}}
	for _, o := range opts {
		o(&h.cfg)
	}
	mux := http.NewServeMux()
	api := map[string]http.HandlerFunc{
		"/api/events":      h.apiList,
		"/api/events/{id}": h.apiGet,
		"/api/suggest":     h.apiSuggest,
		"/api/actions":     h.apiActions,
		"/api/export":      h.apiExport,
		"/api/tail":        h.apiTail,
	}
	for p, fn := range api {
		mux.Handle(p, only(http.MethodGet, fn))
	}
	if h.cfg.operator {
		mux.Handle("/api/verify", only(http.MethodGet, h.apiVerify))
		mux.Handle("/api/checkpoint", only(http.MethodPost, h.apiCheckpoint))
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such endpoint")
	})
	h.pageRoutes(mux)
	h.mux = mux
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.mux.ServeHTTP(w, r)
}

// only answers requests of another method than method with 405.
func only(method string, fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, CodeMethod, "method "+r.Method+" not allowed; use "+method)
			return
		}
		fn(w, r)
	})
}

// logger returns the view of the log that r may read: the tenant
// WithTenantFunc names, or the handler's logger. ok is false when the
// request was refused (the response is written).
func (h *handler) logger(w http.ResponseWriter, r *http.Request) (*audit.Logger, bool) {
	if h.cfg.tenant == nil {
		return h.l, true
	}
	t, ok := h.cfg.tenant(r)
	if !ok {
		writeError(w, http.StatusForbidden, CodeForbidden, "no tenant for this request")
		return nil, false
	}
	return h.l.WithTenant(t), true
}

// errorBody is the JSON of an API error.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(b)
}

// status maps an error of the audit package to an HTTP status and code.
func status(err error) (int, string) {
	switch {
	case errors.Is(err, audit.ErrInvalidQuery), errors.Is(err, audit.ErrInvalidCursor), errors.Is(err, errBadParam):
		return http.StatusBadRequest, CodeBadRequest
	case errors.Is(err, audit.ErrNotFound):
		return http.StatusNotFound, CodeNotFound
	case errors.Is(err, audit.ErrOutOfScope):
		return http.StatusForbidden, CodeForbidden
	case errors.Is(err, audit.ErrClosed):
		return http.StatusServiceUnavailable, CodeUnavailable
	}
	return http.StatusInternalServerError, CodeInternal
}

// fail writes err as a JSON error; internal errors are logged and not
// shown.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	st, code := status(err)
	msg := err.Error()
	if st == http.StatusInternalServerError {
		h.cfg.log.ErrorContext(r.Context(), "audithttp", "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	msg = strings.TrimPrefix(msg, "audit: ")
	writeError(w, st, code, msg)
}
