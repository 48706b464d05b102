package audithttp_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/trailkit/audit"
	"github.com/trailkit/audit/audithttp"
	"github.com/trailkit/audit/audittest"
)

// The page is mounted under a prefix, as an application would, so that a
// link that is not relative shows.
const prefix = "/admin/audit"

func openLog(t *testing.T, opts ...audit.Option) *audit.Logger {
	t.Helper()
	l, err := audit.Open(t.Context(), filepath.Join(t.TempDir(), "audit.db"), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func serve(t *testing.T, l *audit.Logger, opts ...audithttp.Option) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, audithttp.Handler(l, opts...)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type resp struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func get(t *testing.T, rawURL string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return resp{status: res.StatusCode, header: res.Header, body: string(b), url: res.Request.URL}
}

// follow resolves href (as it appears in the HTML, escaped) against the
// page that holds it, as a browser does.
func follow(t *testing.T, from resp, href string) string {
	t.Helper()
	u, err := url.Parse(html.UnescapeString(href))
	require.NoError(t, err)
	return from.url.ResolveReference(u).String()
}

var (
	relLink  = regexp.MustCompile(`href="([^"]*)" rel="(next|prev|first)"`)
	eventRef = regexp.MustCompile(`<a href="events/([^"]+)">`)
	tagRe    = regexp.MustCompile(`<(/?)([a-zA-Z!][a-zA-Z0-9]*)([^>]*)>`)
	attrRe   = regexp.MustCompile(`\s([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?`)
)

func rel(t *testing.T, r resp, name string) string {
	t.Helper()
	for _, m := range relLink.FindAllStringSubmatch(r.body, -1) {
		if m[2] == name {
			return follow(t, r, m[1])
		}
	}
	return ""
}

func rowIDs(r resp) []string {
	var ids []string
	for _, m := range eventRef.FindAllStringSubmatch(r.body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// The tags and attributes the page's templates write. Data that got out
// of its text would show as another tag or attribute (a <svg>, an
// onerror=, a style=).
var (
	allowedTags = strings.Fields(`!doctype html head meta title link script body a img span header main div p button
		form label input ul li details summary select option table thead tbody tr th td time nav footer section h1 h2
		dl dt dd code pre strong`)
	allowedAttrs = strings.Fields(`lang charset name content rel href type src defer class id width height alt title
		data-total data-per-page data-src data-since data-label aria-pressed aria-hidden aria-label aria-live aria-autocomplete
		aria-expanded aria-controls aria-describedby aria-labelledby aria-disabled role method action hidden value
		placeholder autocomplete spellcheck selected open download scope datetime tabindex for`)
)

// checkMarkup fails when the HTML holds a tag or attribute the templates
// do not write, an inline script or style, or a URL that is not relative.
func checkMarkup(t *testing.T, body string) {
	t.Helper()
	scripts := 0
	for _, m := range tagRe.FindAllStringSubmatch(body, -1) {
		tag := strings.ToLower(m[2])
		require.True(t, slices.Contains(allowedTags, tag), "unexpected tag %q", m[0])
		if m[1] == "/" || tag == "!doctype" {
			continue
		}
		attrs := map[string]string{}
		for _, a := range attrRe.FindAllStringSubmatch(m[3], -1) {
			name := strings.ToLower(a[1])
			require.True(t, slices.Contains(allowedAttrs, name), "unexpected attribute %q in %q", name, m[0])
			attrs[name] = strings.Trim(a[2], `"'`)
		}
		if tag == "script" {
			scripts++
			require.NotEmpty(t, attrs["src"], "inline script")
		}
		for _, k := range []string{"href", "src", "action", "data-src"} {
			if v, ok := attrs[k]; ok {
				v = html.UnescapeString(v)
				require.False(t, strings.HasPrefix(v, "/") || strings.Contains(strings.SplitN(v, "?", 2)[0], ":"),
					"%s=%q is not a relative URL", k, v)
			}
		}
	}
	require.Equal(t, 1, scripts, "one script, app.js")
	require.NotContains(t, strings.ToLower(body), "<style")
}

// esc escapes s as html/template does in text and quoted attributes.
func esc(s string) string {
	var b strings.Builder
	// html/template's text escaping: & < > " ' + and NUL.
	for _, c := range s {
		switch c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		case '+':
			b.WriteString("&#43;")
		case 0:
			b.WriteString("\uFFFD")
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// has fails with a short message (not the whole page) when body lacks want.
func has(t *testing.T, body, want string, msgAndArgs ...any) {
	t.Helper()
	if !strings.Contains(body, want) {
		msg := ""
		if len(msgAndArgs) > 0 {
			msg = fmt.Sprintf(fmt.Sprint(msgAndArgs[0]), msgAndArgs[1:]...)
		}
		t.Fatalf("the page (%d bytes) lacks %q %s", len(body), want, msg)
	}
}

func trackN(t *testing.T, l *audit.Logger, n int, opt func(i int) []audit.TrackOption) []audit.Event {
	t.Helper()
	out := make([]audit.Event, n)
	for i := range n {
		var opts []audit.TrackOption
		if opt != nil {
			opts = opt(i)
		}
		e, err := l.Track(t.Context(), audit.Ref{Type: "user", ID: fmt.Sprintf("u%d", i%3), Name: fmt.Sprintf("User %d", i%3)},
			fmt.Sprintf("project.%s", []string{"created", "updated", "deleted"}[i%3]),
			audit.Ref{Type: "project", ID: fmt.Sprintf("p%d", i%5)}, opts...)
		require.NoError(t, err)
		out[i] = e
	}
	return out
}

func TestPageListAndPaging(t *testing.T) {
	l := openLog(t)
	events := trackN(t, l, 120, nil)
	srv := serve(t, l)

	r := get(t, srv.URL+prefix+"/")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
	checkMarkup(t, r.body)
	has(t, r.body, `data-total="120"`)
	has(t, r.body, `Page 1 of <span id="pages">3</span>`)
	has(t, r.body, `Showing 1–<span id="shown-to">50</span> of`)
	// Newest first.
	ids := rowIDs(r)
	require.Len(t, ids, 50)
	require.Equal(t, events[119].ID, ids[0])
	require.Equal(t, events[70].ID, ids[49])
	require.Empty(t, rel(t, r, "prev"))
	has(t, r.body, `<time datetime="`+events[119].OccurredAt.UTC().Format(time.RFC3339Nano)+`">`)

	// Next, next, then back: each page shows the same rows either way.
	pages := []resp{r}
	for i := 0; i < 2; i++ {
		next := rel(t, pages[len(pages)-1], "next")
		require.NotEmpty(t, next)
		require.True(t, strings.HasPrefix(next, srv.URL+prefix+"/?"), next)
		pages = append(pages, get(t, next))
	}
	last := pages[2]
	require.Equal(t, http.StatusOK, last.status)
	require.Len(t, rowIDs(last), 20)
	require.Equal(t, events[19].ID, rowIDs(last)[0])
	has(t, last.body, `Page 3 of <span id="pages">3</span>`)
	has(t, last.body, `Showing 101–<span id="shown-to">120</span> of`)
	require.Empty(t, rel(t, last, "next"))

	back := get(t, rel(t, last, "prev"))
	require.Equal(t, rowIDs(pages[1]), rowIDs(back))
	has(t, back.body, `Page 2 of`)
	first := get(t, rel(t, back, "prev"))
	require.Equal(t, rowIDs(pages[0]), rowIDs(first))
	has(t, first.body, `Page 1 of`)
	require.Empty(t, rel(t, first, "prev"))
	require.Equal(t, rowIDs(pages[0]), rowIDs(get(t, rel(t, last, "first"))))

	// Events recorded meanwhile do not shift the pages a cursor walks.
	trackN(t, l, 3, nil)
	again := get(t, rel(t, pages[0], "next"))
	require.Equal(t, rowIDs(pages[1]), rowIDs(again))
	has(t, again.body, `data-total="123"`)
}

// Deep paging: past the cursors that "prev" keeps, Previous asks for the
// page by number, and every page still shows its rows and number.
func TestPageDeepPaging(t *testing.T) {
	l := openLog(t)
	events := trackN(t, l, 40, nil)
	srv := serve(t, l)

	r := get(t, srv.URL+prefix+"/?per_page=1")
	var walk []resp
	for {
		require.Equal(t, http.StatusOK, r.status, r.body)
		walk = append(walk, r)
		next := rel(t, r, "next")
		if next == "" {
			break
		}
		require.Less(t, len(next), 2000, "the link stays short")
		r = get(t, next)
	}
	require.Len(t, walk, 40)
	for k := 39; k >= 0; k-- {
		require.Equal(t, []string{events[39-k].ID}, rowIDs(r), "page %d", k+1)
		has(t, r.body, fmt.Sprintf(`Page %d of <span id="pages">40</span>`, k+1))
		if k > 0 {
			r = get(t, rel(t, r, "prev"))
		}
	}
	require.Empty(t, rel(t, r, "prev"))
}

func TestPageFilters(t *testing.T) {
	l := openLog(t)
	day1 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	trackN(t, l, 60, func(i int) []audit.TrackOption {
		opts := []audit.TrackOption{audit.At(day1.Add(time.Duration(i) * time.Hour))}
		if i%4 == 0 {
			opts = append(opts, audit.Failed())
		}
		return opts
	})
	srv := serve(t, l)
	ctx := t.Context()
	for _, c := range []struct {
		params string
		q      audit.Query
	}{
		{"outcome=failure", audit.Query{Outcome: audit.OutcomeFailure}},
		{"actor=u1&actor_type=user", audit.Query{ActorID: "u1", ActorType: "user"}},
		{"action=project.deleted", audit.Query{Action: "project.deleted"}},
		{"resource=p2", audit.Query{ResourceID: "p2"}},
		{"subject=p3&subject_type=project", audit.Query{Subject: "p3", SubjectType: "project"}},
		{"search=upd", audit.Query{Search: "upd"}},
		{"since=2026-12-02&until=2026-12-03", audit.Query{Since: day1.Add(14 * time.Hour), Until: day1.Add(38 * time.Hour)}},
		{"outcome=failure&actor=u0&since=2026-12-02", audit.Query{Outcome: audit.OutcomeFailure, ActorID: "u0", Since: day1.Add(14 * time.Hour)}},
		// Dates in the viewer's zone, which the script sends as tz.
		{"since=2026-12-02&until=2026-12-03&tz=Asia/Tokyo", audit.Query{Since: day1.Add(5 * time.Hour), Until: day1.Add(29 * time.Hour)}},
		{"since=2026-12-02&tz=America/Los_Angeles", audit.Query{Since: day1.Add(22 * time.Hour)}},
		{"since=2026-12-02T00:00:00Z&tz=Asia/Tokyo", audit.Query{Since: day1.Add(14 * time.Hour)}}, // a time names its own offset
		// What a GET form without JavaScript submits: every field, most empty.
		{"search=&actor=u2&action=&resource=&outcome=&since=&until=&order=newest&per_page=50", audit.Query{ActorID: "u2"}},
	} {
		p, err := l.Recent(ctx, c.q)
		require.NoError(t, err)
		require.NotZero(t, p.TotalCount, c.params)
		require.Less(t, p.TotalCount, 60, c.params)
		r := get(t, srv.URL+prefix+"/?"+c.params)
		require.Equal(t, http.StatusOK, r.status, c.params)
		has(t, r.body, fmt.Sprintf(`data-total="%d"`, p.TotalCount), c.params)
		var want []string
		for _, e := range p.Entries {
			want = append(want, e.ID)
		}
		require.Equal(t, want, rowIDs(r), c.params)
		checkMarkup(t, r.body)
	}

	// The zone of the dates shows in the labels and chips, and rides along.
	r0 := get(t, srv.URL+prefix+"/?since=2026-12-02&tz=Asia/Tokyo")
	require.Equal(t, http.StatusOK, r0.status)
	has(t, r0.body, `<span class="date-zone">Asia/Tokyo</span>`)
	has(t, r0.body, `2026-12-02 (Asia/Tokyo)`)
	has(t, r0.body, `<input type="hidden" name="tz" value="Asia/Tokyo">`)
	r0 = get(t, srv.URL+prefix+"/?since=2026-12-02")
	has(t, r0.body, `<span class="date-zone">UTC</span>`)
	has(t, r0.body, `2026-12-02 (UTC)`)

	// The filters stay in the form, the chips, the export and tail links.
	r := get(t, srv.URL+prefix+"/?outcome=failure&actor=u1&actor_type=user")
	has(t, r.body, `<option value="failure" selected>`)
	has(t, r.body, `name="actor" value="u1"`)
	has(t, r.body, `<input type="hidden" name="actor_type" value="user">`)
	has(t, r.body, `href="api/export?actor=u1&amp;actor_type=user&amp;format=csv&amp;outcome=failure"`)
	has(t, r.body, `href="api/export?actor=u1&amp;actor_type=user&amp;format=jsonl&amp;outcome=failure"`)
	has(t, r.body, `data-src="api/tail?actor=u1&amp;actor_type=user&amp;outcome=failure"`)
	has(t, r.body, `aria-label="Remove filter Outcome failure"`)
	has(t, r.body, `<a href="?outcome=failure" class="chip-remove" aria-label="Remove filter Actor u1 (user)">`)
	// Paging keeps the filters.
	p, err := l.Recent(ctx, audit.Query{Outcome: audit.OutcomeFailure, PerPage: 5})
	require.NoError(t, err)
	r = get(t, srv.URL+prefix+"/?outcome=failure&per_page=5")
	next := get(t, rel(t, r, "next"))
	p2, err := l.Recent(ctx, audit.Query{Outcome: audit.OutcomeFailure, PerPage: 5, After: p.Next})
	require.NoError(t, err)
	require.Equal(t, p2.Entries[0].ID, rowIDs(next)[0])
	has(t, next.body, fmt.Sprintf(`data-total="%d"`, p.TotalCount))

	// In api/tail, since is a Seq: the page's date goes to the script instead.
	r = get(t, srv.URL+prefix+"/?since=2026-12-02&outcome=failure")
	has(t, r.body, `data-src="api/tail?outcome=failure" data-since="2026-12-02T00:00:00Z"`)
	has(t, r.body, `href="api/export?format=csv&amp;outcome=failure&amp;since=2026-12-02"`)

	// The API takes the links the page makes, with every filter the form has.
	r = get(t, srv.URL+prefix+"/?search=proj&action=project.updated&actor=u1&actor_type=user&resource=p1&outcome=success&since=2026-12-01&until=2026-12-04&per_page=25")
	require.Equal(t, http.StatusOK, r.status)
	links := regexp.MustCompile(`(?:href|data-src)="(api/[^"]*)"`).FindAllStringSubmatch(r.body, -1)
	require.Len(t, links, 3, "export CSV, export JSONL, tail")
	for _, m := range links {
		u := follow(t, r, m[1])
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, u)
		res.Body.Close()
		cancel()
	}

	// Oldest first: no live tail (new events would not go on top).
	r = get(t, srv.URL+prefix+"/?order=oldest")
	require.NotContains(t, r.body, `id="live"`)
	has(t, r.body, `<option value="oldest" selected>`)
}

func TestPageBadFilters(t *testing.T) {
	l := openLog(t)
	trackN(t, l, 3, nil)
	srv := serve(t, l)
	for params, want := range map[string]string{
		"outcome=maybe":                     "outcome",
		"order=sideways":                    "order: want newest or oldest",
		"since=yesterday":                   "since: want RFC 3339",
		"since=2026-12-03&until=2026-12-01": "until",
		"after=garbage":                     "cursor",
		"action=a&action=b":                 "action given 2 times",
		"subject=x&resource=y":              "subject with resource_id",
		"per_page=-1":                       "per_page",
	} {
		r := get(t, srv.URL+prefix+"/?"+params)
		require.Equal(t, http.StatusBadRequest, r.status, params)
		require.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"), params)
		has(t, r.body, `role="alert"`, params)
		has(t, r.body, html.EscapeString(want), params)
		require.NotContains(t, r.body, "goroutine", params)
		require.NotContains(t, r.body, `<table`, params)
		checkMarkup(t, r.body)
	}
	// The form keeps what was typed, so it can be fixed.
	r := get(t, srv.URL+prefix+"/?since=yesterday")
	has(t, r.body, `name="since" type="text" value="yesterday"`)
}

func TestPageEvent(t *testing.T) {
	l := openLog(t)
	ctx := audit.ContextWithOrigin(t.Context(), audit.Origin{IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (test)", RequestID: "req-42"})
	first, err := l.Track(ctx, nil, "system.started", nil)
	require.NoError(t, err)
	e, err := l.Track(ctx, audit.Ref{Type: "user", ID: "u1", Name: "Ada"}, "invoice.paid",
		audit.Ref{Type: "invoice", ID: "inv-9"},
		audit.WithTargets(audit.Ref{Type: "account", ID: "acct-1", Name: "Acme"}, audit.Ref{Type: "card", ID: "card-4"}),
		audit.WithMetadata(map[string]any{"amount": 1250, "currency": "EUR", "note": "a <b>bold</b> & 'quoted' claim"}),
		audit.WithIdempotencyKey("pay-9"), audit.Failed())
	require.NoError(t, err)
	srv := serve(t, l)

	r := get(t, srv.URL+prefix+"/events/"+e.ID)
	require.Equal(t, http.StatusOK, r.status)
	checkMarkup(t, r.body)
	for _, want := range []string{
		"invoice.paid", "Ada", "inv-9", "acct-1", "Acme", "card-4", "account", "card",
		`&#34;amount&#34;: 1250`, `&#34;currency&#34;: &#34;EUR&#34;`,
		`a &lt;b&gt;bold&lt;/b&gt; &amp; &#39;quoted&#39; claim`,
		esc(base64.StdEncoding.EncodeToString(e.Hash)), esc(base64.StdEncoding.EncodeToString(e.PrevHash)),
		esc(base64.StdEncoding.EncodeToString(first.Hash)),
		"203.0.113.7", "Mozilla/5.0 (test)", "req-42", "pay-9", "badge-failure", e.ID,
		`<time datetime="` + e.OccurredAt.UTC().Format(time.RFC3339Nano) + `">`,
		`href="../"`, `href="../static/app.css"`, `src="../static/app.js"`,
		`href="../?actor=u1&amp;actor_type=user"`, `href="../?subject=inv-9&amp;subject_type=invoice"`,
	} {
		has(t, r.body, want)
	}
	// The links lead back to the list under the prefix.
	back := get(t, follow(t, r, "../?actor=u1&amp;actor_type=user"))
	require.Equal(t, http.StatusOK, back.status)
	require.Equal(t, []string{e.ID}, rowIDs(back))

	// The list links to it.
	list := get(t, srv.URL+prefix+"/")
	require.Contains(t, rowIDs(list), e.ID)
	require.Equal(t, http.StatusOK, get(t, follow(t, list, "events/"+e.ID)).status)

	// The system event: no actor, no targets, no metadata.
	r = get(t, srv.URL+prefix+"/events/"+first.ID)
	require.Equal(t, http.StatusOK, r.status)
	has(t, r.body, "No targets.")
	has(t, r.body, "No metadata.")
	has(t, r.body, "System")

	for _, id := range []string{"nope", "%3Cscript%3E", url.PathEscape(e.ID + "x")} {
		r = get(t, srv.URL+prefix+"/events/"+id)
		require.Equal(t, http.StatusNotFound, r.status, id)
		require.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
		has(t, r.body, "There is no event with this ID")
		has(t, r.body, `href="../"`)
		checkMarkup(t, r.body)
	}
}

func TestPageTenants(t *testing.T) {
	l := openLog(t)
	a, err := l.WithTenant("acme").Track(t.Context(), audit.Ref{Type: "user", ID: "alice"}, "doc.read", audit.Ref{Type: "doc", ID: "d1"})
	require.NoError(t, err)
	b, err := l.WithTenant("globex").Track(t.Context(), audit.Ref{Type: "user", ID: "bob"}, "doc.deleted", audit.Ref{Type: "doc", ID: "d2"})
	require.NoError(t, err)
	srv := serve(t, l, audithttp.WithTenantFunc(func(r *http.Request) (string, bool) {
		tn := r.Header.Get("X-Tenant")
		return tn, tn != ""
	}))

	r := get(t, srv.URL+prefix+"/", "X-Tenant", "acme")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, []string{a.ID}, rowIDs(r))
	has(t, r.body, `data-total="1"`)
	has(t, r.body, `</span> event</p>`)
	require.NotContains(t, r.body, ">bob<", "at %d", strings.Index(r.body, "bob"))
	has(t, r.body, `<span class="tenant" title="Tenant">acme</span>`)
	// Filters cannot reach the other tenant.
	r = get(t, srv.URL+prefix+"/?actor=bob", "X-Tenant", "acme")
	require.Empty(t, rowIDs(r))
	has(t, r.body, `data-total="0"`)
	has(t, r.body, "No events")
	has(t, r.body, `</span> events match these filters</p>`)
	r = get(t, srv.URL+prefix+"/?action=doc.read", "X-Tenant", "acme")
	has(t, r.body, `</span> event matches these filters</p>`)
	r = get(t, srv.URL+prefix+"/?tenant=globex", "X-Tenant", "acme")
	require.Equal(t, []string{a.ID}, rowIDs(r))

	require.Equal(t, http.StatusOK, get(t, srv.URL+prefix+"/events/"+a.ID, "X-Tenant", "acme").status)
	r = get(t, srv.URL+prefix+"/events/"+b.ID, "X-Tenant", "acme")
	require.Equal(t, http.StatusNotFound, r.status)
	require.NotContains(t, r.body, "bob")
	require.NotContains(t, r.body, "doc.deleted")
	require.Equal(t, http.StatusOK, get(t, srv.URL+prefix+"/events/"+b.ID, "X-Tenant", "globex").status)

	// No tenant: refused, as an HTML page.
	for _, p := range []string{"/", "/events/" + a.ID} {
		r = get(t, srv.URL+prefix+p)
		require.Equal(t, http.StatusForbidden, r.status, p)
		require.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
		require.NotContains(t, r.body, "alice")
	}
}

// naughty records one event per naughty string: the string as actor
// name, resource ID, target name, and metadata key and value.
func naughty(t *testing.T, l *audit.Logger) ([]string, map[string]audit.Event) {
	t.Helper()
	var strs []string
	seen := map[string]bool{}
	for _, s := range audittest.LoadNaughtyStrings(t) {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		strs = append(strs, s)
	}
	out := make(map[string]audit.Event, len(strs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, s := range strs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			e, err := l.Record(context.Background(), audit.Event{
				Action:   "naughty.string",
				Actor:    audit.Ref{Type: "user", ID: fmt.Sprintf("n%d", i), Name: s},
				Resource: audit.Ref{Type: "doc", ID: s},
				Targets:  []audit.Ref{{Type: "tag", ID: "t", Name: s}},
				Metadata: map[string]any{"value": s, "k" + s: []any{s}},
				Origin:   audit.Origin{UserAgent: s},
			})
			if err != nil {
				t.Errorf("%q: %v", s, err)
				return
			}
			mu.Lock()
			out[s] = e
			mu.Unlock()
		}()
	}
	wg.Wait()
	return strs, out
}

func TestPageNaughtyStrings(t *testing.T) {
	l := openLog(t, audit.WithRedactKeys()) // some strings name secrets
	strs, events := naughty(t, l)
	require.NotEmpty(t, strs) // the suite's hard strings, and the Big List when found (audittest.LoadNaughtyStrings)
	srv := serve(t, l)

	r := get(t, srv.URL+prefix+"/?per_page=1000")
	require.Equal(t, http.StatusOK, r.status)
	require.Len(t, rowIDs(r), len(strs))
	checkMarkup(t, r.body)
	lower := strings.ToLower(r.body)
	require.Equal(t, 1, strings.Count(lower, "<script"), "only the page's own script tag")
	require.NotContains(t, lower, "<img src=x")
	require.NotContains(t, lower, "<svg")
	has(t, r.body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	has(t, r.body, "&lt;img src=x onerror=alert(1)&gt;")
	has(t, r.body, "&amp;lt;&amp;amp;&amp;gt;&amp;quot;") // "&lt;&amp;&gt;&quot;" as text

	// Every string is in the list (as actor name and resource ID) and on
	// its detail page (and in the metadata), as escaped text.
	for i, s := range strs {
		has(t, r.body, esc(s), "list: %q", s)
		if i%7 != 0 && !strings.ContainsAny(s, "<>&\"'") {
			continue // the detail page of a sample, and of every string with markup
		}
		e := events[s]
		d := get(t, srv.URL+prefix+"/events/"+url.PathEscape(e.ID))
		require.Equal(t, http.StatusOK, d.status, "%q", s)
		checkMarkup(t, d.body)
		require.Equal(t, 1, strings.Count(strings.ToLower(d.body), "<script"), "%q", s)
		has(t, d.body, esc(s), "detail: %q", s)
	}

	// As filters: the form and the chips show them as text, and they select.
	for _, s := range []string{"<script>alert(1)</script>", "\"><svg onload=alert(1)>", "' OR '1'='1", "\u202eevil override\u202c"} {
		r := get(t, srv.URL+prefix+"/?search="+url.QueryEscape(s)+"&resource="+url.QueryEscape(s))
		require.Equal(t, http.StatusOK, r.status, s)
		checkMarkup(t, r.body)
		has(t, r.body, `value="`+esc(s)+`"`)
	}
}

func TestPageHeadersAndAssets(t *testing.T) {
	l := openLog(t)
	e := trackN(t, l, 1, nil)[0]
	srv := serve(t, l)
	for _, c := range []struct{ path, ctype string }{
		{"/", "text/html; charset=utf-8"},
		{"/events/" + e.ID, "text/html; charset=utf-8"},
		{"/events/missing", "text/html; charset=utf-8"},
		{"/no/such/page", "text/html; charset=utf-8"},
		{"/static/app.css", "text/css; charset=utf-8"},
		{"/static/app.js", "text/javascript; charset=utf-8"},
		{"/static/icon.svg", "image/svg+xml"},
	} {
		r := get(t, srv.URL+prefix+c.path)
		require.Equal(t, c.ctype, r.header.Get("Content-Type"), c.path)
		require.Equal(t, "no-store", r.header.Get("Cache-Control"), c.path)
		require.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"), c.path)
		csp := r.header.Get("Content-Security-Policy")
		require.Contains(t, csp, "script-src 'self'", c.path)
		require.Contains(t, csp, "style-src 'self'", c.path)
		require.NotContains(t, csp, "unsafe-inline", c.path)
		if strings.HasPrefix(c.ctype, "text/html") {
			checkMarkup(t, r.body)
		}
	}
	require.Equal(t, http.StatusNotFound, get(t, srv.URL+prefix+"/no/such/page").status)
	require.Equal(t, http.StatusNotFound, get(t, srv.URL+prefix+"/static/").status)
	require.Equal(t, http.StatusNotFound, get(t, srv.URL+prefix+"/static/page.go").status)
	require.Equal(t, http.StatusNotFound, get(t, srv.URL+prefix+"/static/list.html").status)
	r := get(t, srv.URL+prefix+"/no/such/page")
	has(t, r.body, `href="../../static/app.css"`)

	js := get(t, srv.URL+prefix+"/static/app.js").body
	require.NotContains(t, js, "innerHTML")
	require.NotContains(t, js, "eval(")
	require.NotContains(t, js, "http:")
	require.NotContains(t, js, "https:")
	css := get(t, srv.URL+prefix+"/static/app.css").body
	require.NotContains(t, css, "@import")
	require.NotContains(t, css, "url(")

	res, err := http.Post(srv.URL+prefix+"/", "text/plain", nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	// The API's routes stay the API's.
	r = get(t, srv.URL+prefix+"/api/nope")
	require.Equal(t, http.StatusNotFound, r.status)
	require.Contains(t, r.header.Get("Content-Type"), "application/json")
}

func TestPageTitle(t *testing.T) {
	l := openLog(t)
	srv := serve(t, l, audithttp.WithTitle("Acme <Activity>"))
	r := get(t, srv.URL+prefix+"/")
	has(t, r.body, "<title>Acme &lt;Activity&gt;</title>")
	has(t, r.body, "<span>Acme &lt;Activity&gt;</span>")
	has(t, r.body, "Nothing has been recorded yet.")
	checkMarkup(t, r.body)
}
