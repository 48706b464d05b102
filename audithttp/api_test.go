package audithttp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/audittest"
)

// withHeartbeat sets the interval of /api/tail's ": ping" comments.
func withHeartbeat(d time.Duration) Option { return func(c *config) { c.heartbeat = d } }

// quiet is an error log that drops everything.
func quiet() Option { return WithErrorLog(slog.New(slog.NewTextHandler(io.Discard, nil))) }

func openLog(t *testing.T, opts ...audit.Option) *audit.Logger {
	t.Helper()
	l, err := audit.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

type user struct {
	ID   string
	Name string
}

type project struct {
	ID   int
	Name string
}

// seed records three events and returns them, oldest first.
func seed(t *testing.T, l *audit.Logger) []audit.Event {
	t.Helper()
	ctx := context.Background()
	alice, bob := user{"u1", "Alice"}, user{"u2", "Bob"}
	var out []audit.Event
	for _, f := range []func() (audit.Event, error){
		func() (audit.Event, error) { return l.Track(ctx, alice, "project.created", project{1, "Apollo"}) },
		func() (audit.Event, error) {
			return l.Track(ctx, bob, "project.deleted", project{2, "Gemini"}, audit.Failed())
		},
		func() (audit.Event, error) {
			return l.Track(ctx, alice, "invoice.paid", audit.Ref{Type: "invoice", ID: "in9"},
				audit.WithTargets(audit.Ref{Type: "account", ID: "acct1"}), audit.WithMeta("amount", "12.50"))
		},
	} {
		e, err := f()
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

// do serves one request and checks the headers every response carries.
func do(t *testing.T, h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	requireSecurityHeaders(t, w.Header())
	return w
}

func requireSecurityHeaders(t *testing.T, hd http.Header) {
	t.Helper()
	require.Equal(t, "nosniff", hd.Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", hd.Get("Cache-Control"))
	require.Equal(t, "same-origin", hd.Get("Referrer-Policy"))
	require.Contains(t, hd.Get("Content-Security-Policy"), "default-src 'none'")
	require.Contains(t, hd.Get("Content-Security-Policy"), "frame-ancestors 'none'")
}

// decode checks a 200 JSON response and decodes its body.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), w.Body.String())
	return v
}

// requireError checks a JSON error response.
func requireError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	require.Equal(t, status, w.Code, w.Body.String())
	require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	var b errorBody
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &b), w.Body.String())
	require.Equal(t, code, b.Error.Code, w.Body.String())
	require.NotEmpty(t, b.Error.Message)
}

func ids(es []audit.Event) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestAPIEventsEmpty(t *testing.T) {
	t.Parallel()
	h := Handler(openLog(t))
	w := do(t, h, http.MethodGet, "/api/events")
	require.Equal(t, http.StatusOK, w.Code)
	require.JSONEq(t, `{"entries":[],"page":1,"per_page":50,"total_count":0,"total_pages":0}`, w.Body.String())
}

func TestAPIEvents(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	ev := seed(t, l)
	h := Handler(l)

	w := do(t, h, http.MethodGet, "/api/events?per_page=2")
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &raw))
	for _, k := range []string{"entries", "page", "per_page", "total_count", "total_pages", "next"} {
		require.Contains(t, raw, k)
	}
	require.Len(t, raw, 6)
	p := decode[audit.Page](t, w)
	require.Equal(t, []string{ev[2].ID, ev[1].ID}, ids(p.Entries))
	require.Equal(t, 1, p.Page)
	require.Equal(t, 2, p.PerPage)
	require.Equal(t, 3, p.TotalCount)
	require.Equal(t, 2, p.TotalPages)
	require.NotEmpty(t, p.Next)

	p2 := decode[audit.Page](t, do(t, h, http.MethodGet, "/api/events?per_page=2&after="+url.QueryEscape(p.Next)))
	require.Equal(t, []string{ev[0].ID}, ids(p2.Entries))
	require.Equal(t, 2, p2.Page)
	require.Empty(t, p2.Next)

	p3 := decode[audit.Page](t, do(t, h, http.MethodGet, "/api/events?per_page=2&page=2"))
	require.Equal(t, []string{ev[0].ID}, ids(p3.Entries))

	// The event JSON is the library's.
	want, err := json.Marshal(ev[2])
	require.NoError(t, err)
	got, err := json.Marshal(p.Entries[0])
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))

	for _, c := range []struct {
		query string
		want  []string
	}{
		{"action=project.deleted", []string{ev[1].ID}},
		{"actor=u1", []string{ev[2].ID, ev[0].ID}},
		{"actor=u1&actor_type=user", []string{ev[2].ID, ev[0].ID}},
		{"actor_type=robot", []string{}},
		{"resource=1&resource_type=project", []string{ev[0].ID}},
		{"resource_type=project", []string{ev[1].ID, ev[0].ID}},
		{"subject=acct1", []string{ev[2].ID}},
		{"subject=acct1&subject_type=account", []string{ev[2].ID}},
		{"outcome=failure", []string{ev[1].ID}},
		{"search=proj", []string{ev[1].ID, ev[0].ID}},
		{"search=paid", []string{ev[2].ID}},
		{"order=oldest", []string{ev[0].ID, ev[1].ID, ev[2].ID}},
		{"order=newest", []string{ev[2].ID, ev[1].ID, ev[0].ID}},
		{"from_seq=2", []string{ev[2].ID, ev[1].ID}},
		{"from_seq=1&to_seq=2", []string{ev[1].ID, ev[0].ID}},
		{"since=2000-01-01", []string{ev[2].ID, ev[1].ID, ev[0].ID}},
		{"since=2999-01-01", []string{}},
		{"until=2000-01-01T00:00:00Z", []string{}},
		{"unknown=ignored", []string{ev[2].ID, ev[1].ID, ev[0].ID}},
	} {
		p := decode[audit.Page](t, do(t, h, http.MethodGet, "/api/events?"+c.query))
		require.Equal(t, c.want, ids(p.Entries), c.query)
		require.Equal(t, len(c.want), p.TotalCount, c.query)
	}

	// HEAD answers as GET, without a body.
	w = do(t, h, http.MethodHead, "/api/events")
	require.Equal(t, http.StatusOK, w.Code)
}

func TestAPIGet(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	ev := seed(t, l)
	h := Handler(l)
	got := decode[audit.Event](t, do(t, h, http.MethodGet, "/api/events/"+ev[2].ID))
	require.Equal(t, ev[2].ID, got.ID)
	require.Equal(t, ev[2].Seq, got.Seq)
	require.Equal(t, ev[2].Targets, got.Targets)
	require.Equal(t, ev[2].Metadata, got.Metadata)
	require.Equal(t, ev[2].Hash, got.Hash)
	require.True(t, ev[2].OccurredAt.Equal(got.OccurredAt))

	requireError(t, do(t, h, http.MethodGet, "/api/events/nosuchid"), http.StatusNotFound, CodeNotFound)
	requireError(t, do(t, h, http.MethodGet, "/api/events/"+url.PathEscape("%00'\"<x>")), http.StatusNotFound, CodeNotFound)
	requireError(t, do(t, h, http.MethodGet, "/api/events/"+strings.Repeat("x", 5000)), http.StatusNotFound, CodeNotFound)
}

func TestAPISuggestAndActions(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	seed(t, l)
	ctx := context.Background()
	for range 2 {
		_, err := l.Track(ctx, user{"u3", "Carol"}, "project.deleted", project{3, "Mercury"})
		require.NoError(t, err)
	}
	h := Handler(l)

	type suggestions struct {
		Suggestions []audit.Suggestion `json:"suggestions"`
	}
	s := decode[suggestions](t, do(t, h, http.MethodGet, "/api/suggest?q=proj"))
	want, err := l.Suggest(ctx, "proj", 0)
	require.NoError(t, err)
	require.Equal(t, want, s.Suggestions)
	require.Equal(t, audit.Suggestion{Kind: audit.SuggestAction, Value: "project.deleted", Count: 3}, s.Suggestions[0])

	s = decode[suggestions](t, do(t, h, http.MethodGet, "/api/suggest?q=proj&limit=1"))
	require.Len(t, s.Suggestions, 1)
	s = decode[suggestions](t, do(t, h, http.MethodGet, "/api/suggest?q=ali"))
	require.Equal(t, []audit.Suggestion{{Kind: audit.SuggestActor, Value: "u1", Type: "user", Name: "Alice", Count: 2}}, s.Suggestions)

	for _, q := range []string{"/api/suggest", "/api/suggest?q=zzz"} {
		w := do(t, h, http.MethodGet, q)
		require.JSONEq(t, `{"suggestions":[]}`, w.Body.String(), q)
	}
	// The JSON field names the page relies on.
	w := do(t, h, http.MethodGet, "/api/suggest?q=project.d")
	require.JSONEq(t, `{"suggestions":[{"kind":"action","value":"project.deleted","count":3}]}`, w.Body.String())

	type actions struct {
		Actions []audit.ActionCount `json:"actions"`
	}
	a := decode[actions](t, do(t, h, http.MethodGet, "/api/actions"))
	require.Equal(t, []audit.ActionCount{{Action: "project.deleted", Count: 3}, {Action: "invoice.paid", Count: 1}, {Action: "project.created", Count: 1}}, a.Actions)
	w = do(t, h, http.MethodGet, "/api/actions?prefix=project.&limit=1")
	require.JSONEq(t, `{"actions":[{"action":"project.deleted","count":3}]}`, w.Body.String())
	w = do(t, h, http.MethodGet, "/api/actions?prefix=nothing")
	require.JSONEq(t, `{"actions":[]}`, w.Body.String())
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	ev := seed(t, l)
	h := Handler(l, WithOperator(), quiet())
	for _, c := range []struct {
		method, target string
		status         int
		code           string
	}{
		// A bad filter (the library refuses it).
		{"GET", "/api/events?action=project.*", 400, CodeBadRequest},
		{"GET", "/api/events?outcome=maybe", 400, CodeBadRequest},
		{"GET", "/api/events?subject=a&resource=b", 400, CodeBadRequest},
		{"GET", "/api/events?from_seq=3&to_seq=2", 400, CodeBadRequest},
		{"GET", "/api/events?since=2026-01-02&until=2026-01-01", 400, CodeBadRequest},
		{"GET", "/api/events?actor=" + url.QueryEscape(strings.Repeat("x", audit.MaxFieldBytes+1)), 400, CodeBadRequest},
		{"GET", "/api/events?actor=%ff", 400, CodeBadRequest},
		{"GET", "/api/export?format=csv&action=a.*", 400, CodeBadRequest},
		{"GET", "/api/tail?action=a.*", 400, CodeBadRequest},
		{"GET", "/api/tail?from_seq=3&to_seq=2", 400, CodeBadRequest},
		// A bad cursor.
		{"GET", "/api/events?after=garbage", 400, CodeBadRequest},
		{"GET", "/api/events?after=AAAAAAAAAAAAAAAAAAAAAAAAAAAA", 400, CodeBadRequest},
		{"GET", "/api/export?format=jsonl&after=garbage", 400, CodeBadRequest},
		// A bad parameter.
		{"GET", "/api/events?page=abc", 400, CodeBadRequest},
		{"GET", "/api/events?per_page=-1", 400, CodeBadRequest},
		{"GET", "/api/events?page=99999999999", 400, CodeBadRequest},
		{"GET", "/api/events?order=sideways", 400, CodeBadRequest},
		{"GET", "/api/events?since=yesterday", 400, CodeBadRequest},
		{"GET", "/api/events?since=2026-01-01&tz=Mars/Olympus_Mons", 400, CodeBadRequest},
		{"GET", "/api/events?since=2026-01-01&tz=../../etc/passwd", 400, CodeBadRequest},
		{"GET", "/api/events?since=2026-01-01&tz=Local", 400, CodeBadRequest},
		{"GET", "/api/events?tz=Europe/Berlin&tz=UTC", 400, CodeBadRequest},
		{"GET", "/api/events?action=a&action=b", 400, CodeBadRequest},
		{"GET", "/api/suggest?q=a&limit=x", 400, CodeBadRequest},
		{"GET", "/api/suggest?q=a&limit=-1", 400, CodeBadRequest},
		{"GET", "/api/suggest?q=a&q=b", 400, CodeBadRequest},
		{"GET", "/api/suggest?q=%ff", 400, CodeBadRequest},
		{"GET", "/api/actions?limit=1.5", 400, CodeBadRequest},
		{"GET", "/api/actions?prefix=%ff", 400, CodeBadRequest},
		{"GET", "/api/tail?since=yesterday", 400, CodeBadRequest},
		{"GET", "/api/tail?since=-1", 400, CodeBadRequest},
		{"GET", "/api/verify?checkpoint=nonsense", 400, CodeBadRequest},
		// A bad format.
		{"GET", "/api/export", 400, CodeBadRequest},
		{"GET", "/api/export?format=xml", 400, CodeBadRequest},
		{"GET", "/api/export?format=csv&format=jsonl", 400, CodeBadRequest},
		// No such event or route.
		{"GET", "/api/events/nope", 404, CodeNotFound},
		{"GET", "/api/nope", 404, CodeNotFound},
		{"GET", "/api/events/" + ev[0].ID + "/more", 404, CodeNotFound},
		// The wrong method.
		{"POST", "/api/events", 405, CodeMethod},
		{"DELETE", "/api/events/" + ev[0].ID, 405, CodeMethod},
		{"PUT", "/api/export?format=csv", 405, CodeMethod},
		{"POST", "/api/tail", 405, CodeMethod},
		{"GET", "/api/checkpoint", 405, CodeMethod},
		{"POST", "/api/verify", 405, CodeMethod},
	} {
		w := do(t, h, c.method, c.target)
		requireError(t, w, c.status, c.code)
		if c.status == 405 {
			require.NotEmpty(t, w.Header().Get("Allow"), c.target)
		}
		require.Empty(t, w.Header().Get("Content-Disposition"), c.target)
	}
	w := do(t, h, "POST", "/api/events")
	require.Equal(t, "GET", w.Header().Get("Allow"))
	w = do(t, h, "GET", "/api/checkpoint")
	require.Equal(t, "POST", w.Header().Get("Allow"))
	w = do(t, h, "HEAD", "/api/tail") // answers at once, without a stream
	require.Equal(t, 200, w.Code)
	require.Equal(t, "text/event-stream", w.Header().Get("Content-Type"))
	w = do(t, h, "GET", "/api/tail", "Last-Event-ID", "x")
	requireError(t, w, 400, CodeBadRequest)

	// Without WithOperator, verify and checkpoint do not exist.
	plain := Handler(l)
	requireError(t, do(t, plain, "GET", "/api/verify"), 404, CodeNotFound)
	requireError(t, do(t, plain, "POST", "/api/checkpoint"), 404, CodeNotFound)
}

func TestAPIClosedLogger(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	ev := seed(t, l)
	h := Handler(l, WithOperator(), quiet())
	require.NoError(t, l.Close())
	for _, c := range []struct{ method, target string }{
		{"GET", "/api/events"},
		{"GET", "/api/events/" + ev[0].ID},
		{"GET", "/api/suggest?q=p"},
		{"GET", "/api/actions"},
		{"GET", "/api/export?format=csv"},
		{"GET", "/api/export?format=jsonl"},
		{"GET", "/api/tail"},
		{"GET", "/api/tail?since=0"},
		{"GET", "/api/verify"},
		{"POST", "/api/checkpoint"},
	} {
		requireError(t, do(t, h, c.method, c.target), http.StatusServiceUnavailable, CodeUnavailable)
	}
}

func TestAPIForbidden(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	ev := seed(t, l)
	h := Handler(l, WithOperator(), WithTenantFunc(func(*http.Request) (string, bool) { return "", false }))
	for _, c := range []struct{ method, target string }{
		{"GET", "/api/events"},
		{"GET", "/api/events/" + ev[0].ID},
		{"GET", "/api/suggest?q=p"},
		{"GET", "/api/actions"},
		{"GET", "/api/export?format=csv"},
		{"GET", "/api/tail"},
		{"GET", "/api/verify"},
		{"POST", "/api/checkpoint"},
	} {
		requireError(t, do(t, h, c.method, c.target), http.StatusForbidden, CodeForbidden)
	}
}

func TestAPIVerifyAndCheckpoint(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	seed(t, l)
	h := Handler(l, WithOperator())
	rep := decode[map[string]any](t, do(t, h, "GET", "/api/verify"))
	require.Equal(t, map[string]any{"checked": float64(3), "ok": true, "first_bad": float64(0), "reason": ""}, rep)

	cp := decode[checkpointJSON](t, do(t, h, "POST", "/api/checkpoint"))
	require.Equal(t, int64(3), cp.Seq)
	require.Len(t, cp.Hash, 64)
	require.True(t, strings.HasPrefix(cp.Text, "audit-checkpoint/v1 3 "+cp.Hash+" "), cp.Text)
	var parsed audit.Checkpoint
	require.NoError(t, parsed.UnmarshalText([]byte(cp.Text)))

	rep = decode[map[string]any](t, do(t, h, "GET", "/api/verify?checkpoint="+url.QueryEscape(cp.Text)))
	require.Equal(t, true, rep["ok"])
	// A checkpoint the log does not extend.
	forged := strings.Replace(cp.Text, cp.Hash, strings.Repeat("0", 64), 1)
	rep = decode[map[string]any](t, do(t, h, "GET", "/api/verify?checkpoint="+url.QueryEscape(forged)))
	require.Equal(t, false, rep["ok"])
	require.Equal(t, float64(3), rep["first_bad"])
	require.NotEmpty(t, rep["reason"])
}

func TestAPITenants(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	ctx := context.Background()
	track := func(tenant, who, action string) audit.Event {
		e, err := l.WithTenant(tenant).Track(ctx, user{who, who}, action, project{7, "shared"})
		require.NoError(t, err)
		return e
	}
	a1 := track("a", "alice", "doc.read.a")
	b1 := track("b", "bob", "doc.read.b")
	a2 := track("a", "alice", "doc.read.a")
	tenantFn := func(r *http.Request) (string, bool) {
		t := r.Header.Get("X-Tenant")
		return t, t != ""
	}
	h := Handler(l, WithTenantFunc(tenantFn), WithOperator(), withHeartbeat(time.Hour))
	as := func(tenant, target string) *httptest.ResponseRecorder {
		return do(t, h, "GET", target, "X-Tenant", tenant, "Tenant", "b") // a second header is no way in
	}

	p := decode[audit.Page](t, as("a", "/api/events?tenant=b"))
	require.Equal(t, []string{a2.ID, a1.ID}, ids(p.Entries))
	p = decode[audit.Page](t, as("b", "/api/events"))
	require.Equal(t, []string{b1.ID}, ids(p.Entries))
	p = decode[audit.Page](t, as("c", "/api/events"))
	require.Empty(t, p.Entries)

	requireError(t, as("a", "/api/events/"+b1.ID), http.StatusNotFound, CodeNotFound)
	requireError(t, as("b", "/api/events/"+a1.ID), http.StatusNotFound, CodeNotFound)
	require.Equal(t, b1.ID, decode[audit.Event](t, as("b", "/api/events/"+b1.ID)).ID)

	// A cursor of one tenant is refused on the other.
	p = decode[audit.Page](t, as("a", "/api/events?per_page=1"))
	requireError(t, as("b", "/api/events?per_page=1&after="+url.QueryEscape(p.Next)), 400, CodeBadRequest)

	w := as("a", "/api/suggest?q=doc")
	require.JSONEq(t, `{"suggestions":[{"kind":"action","value":"doc.read.a","count":2}]}`, w.Body.String())
	w = as("b", "/api/suggest?q=a")
	require.JSONEq(t, `{"suggestions":[]}`, w.Body.String())
	w = as("a", "/api/actions")
	require.JSONEq(t, `{"actions":[{"action":"doc.read.a","count":2}]}`, w.Body.String())
	w = as("b", "/api/actions")
	require.JSONEq(t, `{"actions":[{"action":"doc.read.b","count":1}]}`, w.Body.String())

	w = as("b", "/api/export?format=csv")
	require.Equal(t, 200, w.Code)
	rows, err := csv.NewReader(w.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, b1.ID, rows[1][1])
	w = as("a", "/api/export?format=jsonl")
	require.Equal(t, 200, w.Code)
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")
	require.Len(t, lines, 4)             // header, two events, trailer
	require.Contains(t, lines[1], a2.ID) // newest first
	require.Contains(t, lines[2], a1.ID)
	require.NotContains(t, w.Body.String(), b1.ID)
	_, err = audit.VerifyExport(strings.NewReader(w.Body.String()), nil)
	require.ErrorIs(t, err, audit.ErrUnverifiableExport)

	// The tail of tenant a, from the start, then live: b's events never show.
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s := openSSE(t, srv.URL+"/api/tail?since=0", "X-Tenant", "a")
	require.Equal(t, a1.ID, s.next(t).event.ID)
	require.Equal(t, a2.ID, s.next(t).event.ID)
	track("b", "bob", "doc.read.b")
	a3 := track("a", "alice", "doc.read.a")
	require.Equal(t, a3.ID, s.next(t).event.ID)
}

func TestAPIExport(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	ev := seed(t, l)
	ctx := context.Background()
	formula, err := l.Track(ctx, user{"u9", "=HYPERLINK(\"http://x\")"}, "user.renamed", user{"u9", "+1"})
	require.NoError(t, err)
	ev = append(ev, formula)
	h := Handler(l)

	w := do(t, h, "GET", "/api/export?format=csv")
	require.Equal(t, 200, w.Code)
	require.Equal(t, "text/csv; charset=utf-8", w.Header().Get("Content-Type"))
	require.Equal(t, `attachment; filename="audit-seq1-4.csv"`, w.Header().Get("Content-Disposition"))
	var want bytes.Buffer
	_, err = l.Export(ctx, &want, audit.ExportCSV, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, want.String(), w.Body.String())
	rows, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	require.NoError(t, err)
	require.Equal(t, audit.CSVColumns, rows[0])
	require.Len(t, rows, 5)
	require.Equal(t, ev[3].ID, rows[1][1]) // newest first
	require.Equal(t, `'=HYPERLINK("http://x")`, rows[1][9])

	w = do(t, h, "GET", "/api/export?format=csv&order=oldest&from_seq=2&to_seq=3")
	require.Equal(t, `attachment; filename="audit-seq2-3.csv"`, w.Header().Get("Content-Disposition"))
	rows, err = csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{ev[1].ID, ev[2].ID}, []string{rows[1][1], rows[2][1]})
	require.Len(t, rows, 3)

	w = do(t, h, "GET", "/api/export?format=csv&action=project.created&since=2000-01-01&until=2999-12-31T23:00:00Z")
	require.Equal(t, `attachment; filename="audit-seq1-4-since-20000101T000000Z-until-29991231T230000Z.csv"`, w.Header().Get("Content-Disposition"))
	rows, err = csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, ev[0].ID, rows[1][1])

	p := decode[audit.Page](t, do(t, h, "GET", "/api/events?per_page=3"))
	w = do(t, h, "GET", "/api/export?format=csv&per_page=3&after="+url.QueryEscape(p.Next))
	require.Equal(t, `attachment; filename="audit-seq1-end.csv"`, w.Header().Get("Content-Disposition"))
	rows, err = csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, ev[0].ID, rows[1][1])

	// The whole root log as JSONL verifies offline.
	w = do(t, h, "GET", "/api/export?format=jsonl")
	require.Equal(t, 200, w.Code)
	require.Equal(t, "application/x-ndjson", w.Header().Get("Content-Type"))
	require.Equal(t, `attachment; filename="audit-seq1-4.jsonl"`, w.Header().Get("Content-Disposition"))
	rep, err := audit.VerifyExport(bytes.NewReader(w.Body.Bytes()), nil)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	require.Equal(t, int64(4), rep.Checked)
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")
	require.Len(t, lines, 6)
	var e audit.Event
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &e))
	require.Equal(t, ev[3].ID, e.ID)

	// An empty log exports a header (and a trailer) only.
	empty := Handler(openLog(t))
	w = do(t, empty, "GET", "/api/export?format=csv")
	require.Equal(t, `attachment; filename="audit-seq1-0.csv"`, w.Header().Get("Content-Disposition"))
	require.Equal(t, strings.Join(audit.CSVColumns, ",")+"\n", w.Body.String())
}

// A filename is safe whatever the request holds.
func TestAPIExportFilenameIsSafe(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	seed(t, l)
	h := Handler(l)
	safe := regexp.MustCompile(`^attachment; filename="audit-[A-Za-z0-9.-]+"$`)
	for _, q := range []string{
		"format=csv&actor=" + url.QueryEscape(`"; filename=evil.exe`),
		"format=jsonl&since=2026-01-01T00:00:00%2B05:00",
		"format=csv&from_seq=2",
		"format=csv&search=" + url.QueryEscape("../../etc/passwd\r\n"),
	} {
		w := do(t, h, "GET", "/api/export?"+q)
		require.Equal(t, 200, w.Code, w.Body.String())
		require.Regexp(t, safe, w.Header().Get("Content-Disposition"), q)
	}
}

// cancelWriter cancels the request after the first bytes of the body.
type cancelWriter struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (c *cancelWriter) Write(p []byte) (int, error) {
	c.cancel()
	return c.ResponseRecorder.Write(p)
}

// An error in the middle of an export aborts the response: the file is not
// ended as if it were whole.
func TestAPIExportAbortsMidStream(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	ctx := context.Background()
	pad := strings.Repeat("x", 400)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 80 { // 640 events: more than a chunk (500), more than a buffer (64 KiB)
				if _, err := l.Track(ctx, user{fmt.Sprint(g), "w"}, "bulk.write", project{i, pad}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	h := Handler(l, quiet())
	for _, format := range []string{"csv", "jsonl"} {
		rctx, cancel := context.WithCancel(ctx)
		r := httptest.NewRequest("GET", "/api/export?format="+format, nil).WithContext(rctx)
		w := &cancelWriter{ResponseRecorder: httptest.NewRecorder(), cancel: cancel}
		var got any
		func() {
			defer func() { got = recover() }()
			h.ServeHTTP(w, r)
		}()
		cancel()
		require.Equal(t, http.ErrAbortHandler, got, format)
		require.Equal(t, 200, w.Code)
		require.NotEmpty(t, w.Header().Get("Content-Disposition"))
	}
}

// sse reads a Server-Sent Events stream.
type sse struct {
	resp   *http.Response
	cancel context.CancelFunc
	msgs   chan sseMsg
}

type sseMsg struct {
	id      string
	data    string
	comment string
	event   audit.Event
	eof     bool
}

func openSSE(t *testing.T, target string, header ...string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", target, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	requireSecurityHeaders(t, resp.Header)
	s := &sse{resp: resp, cancel: cancel, msgs: make(chan sseMsg, 100)}
	t.Cleanup(s.close)
	go func() {
		defer close(s.msgs)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var m sseMsg
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.id != "" || m.data != "" {
					_ = json.Unmarshal([]byte(m.data), &m.event)
					s.msgs <- m
				}
				m = sseMsg{}
			case strings.HasPrefix(line, ":"):
				s.msgs <- sseMsg{comment: line}
			case strings.HasPrefix(line, "id: "):
				m.id = line[4:]
			case strings.HasPrefix(line, "data: "):
				if m.data != "" {
					m.data += "\n"
				}
				m.data += line[6:]
			default:
				s.msgs <- sseMsg{comment: "unexpected line " + line}
			}
		}
		s.msgs <- sseMsg{eof: true}
	}()
	return s
}

func (s *sse) close() {
	s.cancel()
	_ = s.resp.Body.Close()
}

// next returns the next event, skipping heartbeats.
func (s *sse) next(t *testing.T) sseMsg {
	t.Helper()
	for {
		select {
		case m, ok := <-s.msgs:
			require.True(t, ok, "stream ended")
			require.False(t, m.eof, "stream ended")
			if m.comment == ": ping" {
				continue
			}
			require.Empty(t, m.comment)
			require.Equal(t, strconv.FormatInt(m.event.Seq, 10), m.id)
			require.NotContains(t, m.data, "\n")
			return m
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
		}
	}
}

// requireEnds waits for the end of the stream.
func (s *sse) requireEnds(t *testing.T) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok || m.eof {
				return
			}
			require.True(t, m.comment == ": ping", "an event after the end: %+v", m)
		case <-deadline:
			t.Fatal("the stream did not end within 10s")
		}
	}
}

func TestAPITailLive(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	old := seed(t, l)
	srv := httptest.NewServer(Handler(l, withHeartbeat(time.Hour)))
	t.Cleanup(srv.Close)
	ctx := context.Background()

	// With neither Last-Event-ID nor since: only events after the connection.
	s := openSSE(t, srv.URL+"/api/tail")
	all := append([]audit.Event(nil), old...)
	for i := range 5 {
		e, err := l.Track(ctx, user{"u1", "Alice"}, "live.event", project{i, "p"})
		require.NoError(t, err)
		all = append(all, e)
	}
	for _, want := range all[3:] {
		m := s.next(t)
		require.Equal(t, want.ID, m.event.ID)
		require.Equal(t, want.Seq, m.event.Seq)
		require.Equal(t, want.Hash, m.event.Hash)
	}

	// A filter applies to the tail.
	f := openSSE(t, srv.URL+"/api/tail?since=0&action=project.deleted")
	require.Equal(t, old[1].ID, f.next(t).event.ID)

	// Resuming: Last-Event-ID wins over since; neither skips nor repeats.
	r := openSSE(t, srv.URL+"/api/tail?since=1", "Last-Event-ID", strconv.FormatInt(all[4].Seq, 10))
	for _, want := range all[5:] {
		require.Equal(t, want.ID, r.next(t).event.ID)
	}
	r2 := openSSE(t, srv.URL+"/api/tail?since="+strconv.FormatInt(all[6].Seq, 10))
	for _, want := range all[7:] {
		require.Equal(t, want.ID, r2.next(t).event.ID)
	}
	e, err := l.Track(ctx, nil, "live.last", nil)
	require.NoError(t, err)
	for _, st := range []*sse{s, r, r2} {
		require.Equal(t, e.ID, st.next(t).event.ID)
	}
	// The filtered tail stays silent.
	require.Empty(t, f.nextOrNone(200*time.Millisecond).id)
}

// nextOrNone returns the next message within d, or the zero message.
func (s *sse) nextOrNone(d time.Duration) sseMsg {
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(d):
		return sseMsg{}
	}
}

// A client that reconnects with the last id it saw gets every event once,
// those written while it was away included, in order.
func TestAPITailResumeAcrossReconnects(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	srv := httptest.NewServer(Handler(l, withHeartbeat(time.Hour)))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	var written []audit.Event
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Add(1)
	go func() { // a writer that runs all along
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			e, err := l.Track(ctx, user{"w", "writer"}, "steady.write", project{i, "p"})
			if err != nil {
				return
			}
			mu.Lock()
			written = append(written, e)
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()
	var got []int64
	last := "0"
	for range 4 {
		s := openSSE(t, srv.URL+"/api/tail", "Last-Event-ID", last)
		for range 15 {
			m := s.next(t)
			got = append(got, m.event.Seq)
			last = m.id
		}
		s.close()
	}
	close(stop)
	wg.Wait()
	require.Len(t, got, 60)
	for i, seq := range got {
		require.Equal(t, int64(i+1), seq, "event %d", i)
	}
	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(written), 60)
}

func TestAPITailHeartbeat(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	srv := httptest.NewServer(Handler(l, withHeartbeat(20*time.Millisecond)))
	t.Cleanup(srv.Close)
	s := openSSE(t, srv.URL+"/api/tail")
	for range 2 {
		select {
		case m := <-s.msgs:
			require.Equal(t, ": ping", m.comment)
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat")
		}
	}
}

// The handler returns when the request's context ends.
func TestAPITailEndsWithTheRequest(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	seed(t, l)
	h := Handler(l, withHeartbeat(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "/api/tail?since=0", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, r)
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the tail did not end with its request")
	}
	require.Equal(t, 200, w.Code)
	require.Equal(t, "text/event-stream", w.Header().Get("Content-Type"))
	requireSecurityHeaders(t, w.Header())
	body := w.Body.String()
	require.True(t, strings.HasPrefix(body, "id: 1\ndata: {"), body)
	require.Equal(t, 3, strings.Count(body, "\n\n"), body)
}

// The stream ends when the log closes (the client's EventSource then
// reconnects, and gets 503 until the log is back).
func TestAPITailEndsWhenTheLogCloses(t *testing.T) {
	t.Parallel()
	l := openLog(t)
	srv := httptest.NewServer(Handler(l, withHeartbeat(time.Hour), quiet()))
	t.Cleanup(srv.Close)
	s := openSSE(t, srv.URL+"/api/tail")
	e, err := l.Track(context.Background(), nil, "before.close", nil)
	require.NoError(t, err)
	require.Equal(t, e.ID, s.next(t).event.ID)
	require.NoError(t, l.Close())
	s.requireEnds(t)
}

// Naughty strings in names, IDs, metadata and targets round-trip exactly
// through the JSON API, and as filter values reach the library intact.
func TestAPINaughtyStrings(t *testing.T) {
	t.Parallel()
	l := openLog(t, audit.WithRedactKeys())
	ctx := context.Background()
	seen := map[string]bool{}
	var strs []string
	for _, s := range audittest.LoadNaughtyStrings(t) {
		if !seen[s] {
			seen[s] = true
			strs = append(strs, s)
		}
	}
	events := make([]audit.Event, len(strs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	errs := make([]error, len(strs))
	for i, s := range strs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			id := s
			if id == "" {
				id = "empty"
			}
			events[i], errs[i] = l.Track(ctx,
				audit.Ref{Type: "user", ID: "u" + strconv.Itoa(i), Name: s},
				"naughty.test",
				audit.Ref{Type: "doc", ID: id, Name: s},
				audit.WithTargets(audit.Ref{Type: "tag", ID: "t" + strconv.Itoa(i), Name: s}),
				audit.WithMetadata(map[string]any{"value": s, "nested": map[string]any{"list": []any{s, s}}}))
		}()
	}
	wg.Wait()
	h := Handler(l)
	for i, s := range strs {
		require.NoError(t, errs[i], "%q", s)
		e := events[i]
		got := decode[audit.Event](t, do(t, h, "GET", "/api/events/"+url.PathEscape(e.ID)))
		require.Equal(t, e.Actor, got.Actor, "%q", s)
		require.Equal(t, e.Resource, got.Resource, "%q", s)
		require.Equal(t, e.Targets, got.Targets, "%q", s)
		require.Equal(t, e.Metadata, got.Metadata, "%q", s)
		require.Equal(t, s, got.Actor.Name)
		require.Equal(t, s, got.Metadata["value"])
		require.Equal(t, e.Hash, got.Hash)

		// As a filter value.
		p := decode[audit.Page](t, do(t, h, "GET", "/api/events?"+url.Values{"resource": {e.Resource.ID}, "resource_type": {"doc"}}.Encode()))
		require.Equal(t, []string{e.ID}, ids(p.Entries), "%q", s)
		require.Equal(t, 1, p.TotalCount)
		for _, q := range []string{
			"/api/events?" + url.Values{"search": {s}, "actor": {s}}.Encode(),
			"/api/suggest?" + url.Values{"q": {s}}.Encode(),
			"/api/actions?" + url.Values{"prefix": {s}}.Encode(),
		} {
			w := do(t, h, "GET", q)
			require.Equal(t, 200, w.Code, "%q: %s", s, w.Body.String())
		}
	}
	// A whole page, decoded, is the same as the library's.
	w := do(t, h, "GET", "/api/events?per_page=1000&order=oldest")
	p := decode[audit.Page](t, w)
	require.Len(t, p.Entries, len(strs))
	byID := map[string]audit.Event{}
	for _, e := range events {
		byID[e.ID] = e
	}
	for _, got := range p.Entries {
		e := byID[got.ID]
		require.Equal(t, e.Actor, got.Actor)
		require.Equal(t, e.Resource, got.Resource)
		require.Equal(t, e.Targets, got.Targets)
		require.Equal(t, e.Metadata, got.Metadata)
	}
	// The SSE data of a naughty event is one line, and decodes to it.
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	st := openSSE(t, srv.URL+"/api/tail?since=0")
	for range strs {
		m := st.next(t)
		e := byID[m.event.ID]
		require.Equal(t, e.Actor, m.event.Actor)
		require.Equal(t, e.Metadata, m.event.Metadata)
	}
}
