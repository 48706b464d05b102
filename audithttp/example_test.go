package audithttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/audithttp"
)

// exampleLog opens a log in a temporary directory; done closes and
// removes it.
func exampleLog() (l *audit.Logger, done func()) {
	dir, err := os.MkdirTemp("", "audithttp-example")
	if err != nil {
		panic(err)
	}
	l, err = audit.Open(context.Background(), filepath.Join(dir, "audit.db"))
	if err != nil {
		panic(err)
	}
	return l, func() { _ = l.Close(); _ = os.RemoveAll(dir) }
}

// Mount the handler under a prefix, behind the application's own
// authentication (here, none).
func ExampleHandler() {
	l, done := exampleLog()
	defer done()
	ctx := context.Background()
	alice := audit.Ref{Type: "user", ID: "u1", Name: "Alice"}
	_, _ = l.Track(ctx, alice, "project.created", audit.Ref{Type: "project", ID: "p1"})
	_, _ = l.Track(ctx, alice, "project.deleted", audit.Ref{Type: "project", ID: "p1"})

	mux := http.NewServeMux()
	mux.Handle("/admin/audit/", http.StripPrefix("/admin/audit", audithttp.Handler(l)))

	get := func(target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		return w
	}

	w := get("/admin/audit/api/events?per_page=1")
	var page audit.Page
	_ = json.Unmarshal(w.Body.Bytes(), &page)
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Println(page.TotalCount, "events,", page.TotalPages, "pages; newest:", page.Entries[0].Action, "by", page.Entries[0].Actor.Name)

	fmt.Print(get("/admin/audit/api/actions?prefix=project").Body.String())
	fmt.Print(get("/admin/audit/api/suggest?q=ali").Body.String())

	w = get("/admin/audit/api/events?order=sideways")
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 200 application/json; charset=utf-8
	// 2 events, 2 pages; newest: project.deleted by Alice
	// {"actions":[{"action":"project.created","count":1},{"action":"project.deleted","count":1}]}
	// {"suggestions":[{"kind":"actor","value":"u1","type":"user","name":"Alice","count":2}]}
	// 400 {"error":{"code":"bad_request","message":"bad parameter: order: want newest or oldest"}}
}

// Wrap the application so that Track with the request's context records
// where the request came from.
func ExampleMiddleware() {
	l, done := exampleLog()
	defer done()

	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := l.Track(r.Context(), audit.Ref{Type: "user", ID: "u1"}, "report.downloaded", nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Printf("IP %s, user agent %q, request id %q\n", e.Origin.IP, e.Origin.UserAgent, e.Origin.RequestID)
	})
	h := audithttp.Middleware(app)

	r := httptest.NewRequest("GET", "/report", nil)
	r.RemoteAddr = "192.0.2.10:52100"
	r.Header.Set("User-Agent", "example/1.0")
	r.Header.Set("X-Request-Id", "req-42")
	r.Header.Set("X-Forwarded-For", "203.0.113.99") // no proxy is trusted: ignored
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println("response X-Request-Id:", w.Header().Get("X-Request-Id"))
	// Output:
	// IP 192.0.2.10, user agent "example/1.0", request id "req-42"
	// response X-Request-Id: req-42
}

// Behind a load balancer: trust its addresses, and keep only the
// network part of the client's IP.
func ExampleNewMiddleware() {
	mw := audithttp.NewMiddleware(
		audithttp.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")),
		audithttp.WithTruncatedIP(24, 48),
	)
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, _ := audit.OriginFromContext(r.Context())
		fmt.Println("IP", o.IP)
	}))

	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:40000"                                     // the load balancer
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.77, 10.0.0.9") // forged, client, inner proxy
	h.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// IP 198.51.100.0
}
