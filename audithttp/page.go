package audithttp

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/trailkit/audit"
)

// The admin page: server-rendered HTML (html/template, so every value is
// escaped), a stylesheet and a small script, all embedded. Paging and
// filters are links and GET forms, so they work without JavaScript; the
// script adds the typeahead, the live tail and times in the viewer's zone,
// and renders data only as text (textContent).
//
// Every URL the page makes is relative (the handler may be mounted under
// any prefix, and the CSP forbids <base>): from the list at "/" the page
// links to "static/app.css", "events/ID" and "api/..."; from "/events/ID"
// it goes up with "../".

//go:embed ui
var uiFS embed.FS

var pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"utc":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"num":     formatInt,
	"b64":     func(b []byte) string { return base64.StdEncoding.EncodeToString(b) },
	"path":    url.PathEscape,
	"primary": refPrimary,
	"secondary": func(r audit.Ref) string {
		switch {
		case r.IsZero():
			return ""
		case r.Name != "" && r.Type != "":
			return r.Type + " · " + r.ID
		case r.Name != "":
			return r.ID
		}
		return r.Type
	},
	"outcome": func(o string) string {
		if o == audit.OutcomeFailure {
			return "Failure"
		}
		return "Success"
	},
}).ParseFS(uiFS, "ui/*.html"))

// refPrimary is how a ref is named in a table cell: its name, else its
// ID, else "System" for the zero Ref.
func refPrimary(r audit.Ref) string {
	switch {
	case r.IsZero():
		return "System"
	case r.Name != "":
		return r.Name
	case r.ID != "":
		return r.ID
	}
	return r.Type
}

// formatInt writes n with thousands separators: 1,234,567.
func formatInt(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// staticTypes are the assets under ui/ that /static/ serves, with their
// content types.
var staticTypes = map[string]string{
	"app.css":  "text/css; charset=utf-8",
	"app.js":   "text/javascript; charset=utf-8",
	"icon.svg": "image/svg+xml",
}

func (h *handler) pageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", h.pageList)
	mux.HandleFunc("GET /events/{id}", h.pageEvent)
	mux.HandleFunc("GET /static/{name}", h.pageStatic)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", http.MethodGet)
			h.pageError(w, r, http.StatusMethodNotAllowed, "Method not allowed", "This page only answers GET.")
			return
		}
		h.pageError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
	})
}

func (h *handler) pageStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ct, ok := staticTypes[name]
	if !ok {
		h.pageError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
		return
	}
	b, err := uiFS.ReadFile(path.Join("ui", name))
	if err != nil {
		h.pageError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// pageView is handler.logger for the page: a refused request gets an HTML
// page, not JSON.
func (h *handler) pageView(w http.ResponseWriter, r *http.Request) (*audit.Logger, bool) {
	if h.cfg.tenant == nil {
		return h.l, true
	}
	t, ok := h.cfg.tenant(r)
	if !ok {
		h.pageError(w, r, http.StatusForbidden, "Forbidden", "There is no tenant for this request.")
		return nil, false
	}
	return h.l.WithTenant(t), true
}

// common is what every page's layout needs.
type common struct {
	Title   string // the page's <title>
	Heading string // the product heading (WithTitle)
	Root    string // the relative URL of the handler's root: "" or "../"
	Tenant  string
}

func (h *handler) common(root, title string, l *audit.Logger) common {
	c := common{Title: title, Heading: h.cfg.title, Root: root}
	if l != nil {
		c.Tenant = l.Tenant()
	}
	if title != h.cfg.title {
		c.Title = title + " · " + h.cfg.title
	}
	return c
}

// render executes the template name into a buffer, then writes it with
// status: a template error becomes a plain 500, never half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		h.cfg.log.ErrorContext(r.Context(), "audithttp: page", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

type errorData struct {
	common
	Status  int
	Name    string
	Message string
}

// pageError renders an error page. Its links go to the handler's root,
// which is relative to the request's path.
func (h *handler) pageError(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	h.render(w, r, status, "error", errorData{common: h.common(rootOf(r.URL.EscapedPath()), title, nil), Status: status, Name: title, Message: msg})
}

// rootOf returns the relative URL from path (after StripPrefix) up to
// the handler's root: "" for "/", "../" for "/events/x", and so on.
func rootOf(p string) string {
	n := strings.Count(p, "/") - 1
	if n <= 0 {
		return ""
	}
	return strings.Repeat("../", n)
}

// failure maps err to a status and a message fit for the page: the
// error's text for the caller's mistakes, nothing of it for the rest
// (which is logged).
func (h *handler) failure(r *http.Request, err error) (int, string) {
	st, _ := status(err)
	switch st {
	case http.StatusInternalServerError:
		h.cfg.log.ErrorContext(r.Context(), "audithttp: page", "path", r.URL.Path, "err", err)
		return st, "Something went wrong while reading the log. The error was logged."
	case http.StatusServiceUnavailable:
		return st, "The audit log is closed."
	case http.StatusForbidden:
		return st, "This view of the log may not be read."
	}
	msg := strings.TrimPrefix(err.Error(), "audit: ")
	if errors.Is(err, errBadParam) {
		msg = strings.TrimPrefix(msg, errBadParam.Error()+": ")
	}
	return st, msg
}

// Query parameters of the list page: the filters (the API's names, so
// that the export and tail links take them as they are), and paging.
var (
	filterParams = []string{"search", "action", "actor", "actor_type", "resource", "resource_type",
		"subject", "subject_type", "outcome", "since", "until", "tz", "from_seq", "to_seq", "order", "per_page"}
	// visibleParams have an input of their own in the filter form; the
	// other filters ride along as hidden inputs.
	visibleParams = map[string]bool{"search": true, "action": true, "actor": true, "resource": true,
		"outcome": true, "since": true, "until": true, "order": true, "per_page": true}
)

// prevParam carries the cursors of the pages before the current one
// (after the first), so that "Previous" is a keyset walk back, without
// JavaScript: "Next" pushes the current cursor, "Previous" pops one. It
// keeps the last maxPrev cursors; past them "Previous" asks for the page
// by number (Query.Page), which is as exact, only slower on deep pages.
const (
	prevParam = "prev"
	maxPrev   = 20
)

// filters returns the filter parameters of v that are set.
func filters(v url.Values) url.Values {
	out := url.Values{}
	for _, k := range filterParams {
		if s := v.Get(k); s != "" {
			out.Set(k, s)
		}
	}
	if out.Get("order") == "newest" {
		out.Del("order")
	}
	return out
}

func clone(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// listLink is the relative link from the list to itself with v.
func listLink(v url.Values) string {
	if len(v) == 0 {
		return "./"
	}
	return "?" + v.Encode()
}

type chip struct {
	Label, Value, Remove string
}

type hidden struct{ Name, Value string }

type listData struct {
	common
	F         map[string]string // the form's values
	DateType  map[string]string // "date", or "text" for a since/until that is not a date
	Zone      string            // the time zone of since and until as dates: tz, or UTC
	Hidden    []hidden
	Chips     []chip
	Open      bool // the filters' panel: open when a filter besides the search is set
	Error     string
	HasPage   bool
	Page      audit.Page
	From, To  int // the rows shown, 1-based
	First     string
	Prev      string
	Next      string
	Clear     string
	CSV       string
	JSONL     string
	Tail      string // the live tail's source, on the first page newest first
	TailSince string // the page's since, which the tail's source cannot carry
	PerPages  []int
}

func (h *handler) pageList(w http.ResponseWriter, r *http.Request) {
	l, ok := h.pageView(w, r)
	if !ok {
		return
	}
	v := r.URL.Query()
	d := listData{
		common:   h.common("", h.cfg.title, l),
		F:        map[string]string{},
		DateType: map[string]string{"since": "date", "until": "date"},
		PerPages: []int{25, 50, 100, 250},
	}
	for _, k := range filterParams {
		d.F[k] = v.Get(k)
	}
	d.Zone = cmp.Or(d.F["tz"], "UTC")
	for _, k := range []string{"since", "until"} {
		if s := d.F[k]; s != "" {
			if _, err := time.Parse(time.DateOnly, s); err != nil {
				d.DateType[k] = "text"
			}
		}
	}
	f := filters(v)
	for _, k := range filterParams {
		if s := f.Get(k); s != "" && !visibleParams[k] {
			d.Hidden = append(d.Hidden, hidden{k, s})
		}
	}
	d.Chips = chips(f)
	d.Clear = "./"
	for k := range f {
		if k != "search" {
			d.Open = true
		}
	}

	q, err := parseQuery(v)
	if err == nil {
		if len(v[prevParam]) > 1 {
			err = errors.New(prevParam + " given more than once")
		}
	}
	status := http.StatusOK
	if err == nil {
		d.Page, err = l.Recent(r.Context(), q)
	}
	if err != nil {
		status, d.Error = h.failure(r, err)
		d.Open = true
		if errors.Is(err, audit.ErrInvalidCursor) {
			d.Error += " — the page link is out of date; start again from the first page."
			d.First = listLink(f)
		}
		h.render(w, r, status, "list", d)
		return
	}
	d.HasPage = true
	p := d.Page
	if len(p.Entries) > 0 {
		d.From = (p.Page-1)*p.PerPage + 1
		d.To = d.From + len(p.Entries) - 1
	}

	after := q.After
	var stack []string
	if s := v.Get(prevParam); s != "" && after != "" {
		stack = strings.Split(s, ".")
	}
	if p.Next != "" {
		nv := clone(f)
		nv.Set("after", p.Next)
		ns := append(append([]string(nil), stack...), after)
		if after == "" {
			ns = ns[:len(ns)-1]
		}
		if len(ns) > maxPrev {
			ns = ns[len(ns)-maxPrev:]
		}
		if len(ns) > 0 {
			nv.Set(prevParam, strings.Join(ns, "."))
		}
		d.Next = listLink(nv)
	}
	if p.Page > 1 {
		pv := clone(f)
		switch {
		case p.Page == 2:
		case len(stack) > 0:
			pv.Set("after", stack[len(stack)-1])
			if len(stack) > 1 {
				pv.Set(prevParam, strings.Join(stack[:len(stack)-1], "."))
			}
		default:
			pv.Set("page", strconv.Itoa(p.Page-1))
		}
		d.Prev = listLink(pv)
		d.First = listLink(f)
	}
	ex := clone(f)
	ex.Del("per_page")
	ex.Set("format", "csv")
	d.CSV = "api/export?" + ex.Encode()
	ex.Set("format", "jsonl")
	d.JSONL = "api/export?" + ex.Encode()
	if p.Page == 1 && q.Order == audit.NewestFirst {
		// In api/tail, since is the Seq to resume after, not a time: the
		// script drops the events that occurred before the page's since.
		tv := clone(f)
		tv.Del("per_page")
		tv.Del("order")
		tv.Del("since")
		if !q.Since.IsZero() {
			d.TailSince = q.Since.UTC().Format(time.RFC3339Nano)
		}
		d.Tail = "api/tail"
		if len(tv) > 0 {
			d.Tail += "?" + tv.Encode()
		}
	}
	h.render(w, r, status, "list", d)
}

// chips lists the active filters of f, each with the link that removes
// it (and what depends on it: a type goes with its ID).
func chips(f url.Values) []chip {
	var out []chip
	add := func(label, value string, remove ...string) {
		rv := clone(f)
		for _, k := range remove {
			rv.Del(k)
		}
		out = append(out, chip{Label: label, Value: value, Remove: listLink(rv)})
	}
	withType := func(id, typ string) string {
		if typ == "" {
			return id
		}
		return id + " (" + typ + ")"
	}
	if s := f.Get("search"); s != "" {
		add("Search", s, "search")
	}
	if s := f.Get("action"); s != "" {
		add("Action", s, "action")
	}
	switch {
	case f.Get("actor") != "":
		add("Actor", withType(f.Get("actor"), f.Get("actor_type")), "actor", "actor_type")
	case f.Get("actor_type") != "":
		add("Actor type", f.Get("actor_type"), "actor_type")
	}
	switch {
	case f.Get("resource") != "":
		add("Resource", withType(f.Get("resource"), f.Get("resource_type")), "resource", "resource_type")
	case f.Get("resource_type") != "":
		add("Resource type", f.Get("resource_type"), "resource_type")
	}
	if s := f.Get("subject"); s != "" {
		add("About", withType(s, f.Get("subject_type")), "subject", "subject_type")
	} else if s := f.Get("subject_type"); s != "" {
		add("About type", s, "subject_type")
	}
	if s := f.Get("outcome"); s != "" {
		add("Outcome", s, "outcome")
	}
	// A date is midnight in tz (UTC without it); a time names its offset.
	inZone := func(s string) string {
		if _, err := time.Parse(time.DateOnly, s); err == nil {
			return s + " (" + cmp.Or(f.Get("tz"), "UTC") + ")"
		}
		return s
	}
	if s := f.Get("since"); s != "" {
		add("From", inZone(s), "since")
	}
	if s := f.Get("until"); s != "" {
		add("Before", inZone(s), "until")
	}
	if s := f.Get("from_seq"); s != "" {
		add("From seq", s, "from_seq")
	}
	if s := f.Get("to_seq"); s != "" {
		add("To seq", s, "to_seq")
	}
	if f.Get("order") == "oldest" {
		add("Order", "oldest first", "order")
	}
	return out
}

type eventData struct {
	common
	E          audit.Event
	Metadata   string
	ByActor    string
	ByResource string
}

func (h *handler) pageEvent(w http.ResponseWriter, r *http.Request) {
	l, ok := h.pageView(w, r)
	if !ok {
		return
	}
	e, err := l.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		st, msg := h.failure(r, err)
		if st == http.StatusNotFound {
			msg = "There is no event with this ID in this log."
		}
		h.pageError(w, r, st, http.StatusText(st), msg)
		return
	}
	d := eventData{common: h.common("../", e.Action, l), E: e}
	if len(e.Metadata) > 0 {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // the template escapes
		enc.SetIndent("", "  ")
		if err := enc.Encode(e.Metadata); err == nil {
			d.Metadata = strings.TrimSuffix(buf.String(), "\n")
		}
	}
	if !e.Actor.IsZero() && e.Actor.ID != "" {
		v := url.Values{"actor": {e.Actor.ID}}
		if e.Actor.Type != "" {
			v.Set("actor_type", e.Actor.Type)
		}
		d.ByActor = "../?" + v.Encode()
	}
	if e.Resource.ID != "" {
		v := url.Values{"subject": {e.Resource.ID}}
		if e.Resource.Type != "" {
			v.Set("subject_type", e.Resource.Type)
		}
		d.ByResource = "../?" + v.Encode()
	}
	h.render(w, r, http.StatusOK, "event", d)
}
