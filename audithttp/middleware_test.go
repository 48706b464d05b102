package audithttp_test

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/audithttp"
	"github.com/trailkit/audit/audittest"
)

// originOf runs r through mw and returns the Origin the next handler saw
// and the response's X-Request-Id.
func originOf(t *testing.T, mw func(http.Handler) http.Handler, r *http.Request) (audit.Origin, string) {
	t.Helper()
	var got audit.Origin
	var ok bool
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok = audit.OriginFromContext(r.Context())
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.True(t, ok, "no origin in the context")
	return got, w.Header().Get(audithttp.RequestIDHeader)
}

func request(remote string, header ...string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func TestMiddlewareTrustsNoProxyByDefault(t *testing.T) {
	t.Parallel()
	for _, mw := range []func(http.Handler) http.Handler{audithttp.Middleware, audithttp.NewMiddleware()} {
		o, _ := originOf(t, mw, request("203.0.113.5:1234", "X-Forwarded-For", "1.2.3.4", "X-Real-Ip", "1.2.3.5", "Forwarded", "for=1.2.3.6"))
		require.Equal(t, "203.0.113.5", o.IP)
		o, _ = originOf(t, mw, request("[2001:db8::1]:443", "X-Forwarded-For", "1.2.3.4"))
		require.Equal(t, "2001:db8::1", o.IP)
		o, _ = originOf(t, mw, request("[fe80::1%eth0]:443"))
		require.Equal(t, "fe80::1", o.IP)
		o, _ = originOf(t, mw, request("[::ffff:192.0.2.9]:443"))
		require.Equal(t, "192.0.2.9", o.IP)
		o, _ = originOf(t, mw, request("@")) // a Unix socket's peer
		require.Empty(t, o.IP)
		o, _ = originOf(t, mw, request(""))
		require.Empty(t, o.IP)
	}
}

func TestMiddlewareTrustedProxies(t *testing.T) {
	t.Parallel()
	mw := audithttp.NewMiddleware(audithttp.WithTrustedProxies(
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48"), netip.Prefix{}))
	for _, c := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"one proxy", "10.0.0.1:1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"a chain", "10.0.0.1:1", []string{"6.6.6.6, 198.51.100.7, 10.0.0.2"}, "198.51.100.7"},
		{"a chain over headers", "10.0.0.1:1", []string{"6.6.6.6", "198.51.100.7, 10.0.0.2"}, "198.51.100.7"},
		{"no spaces", "10.0.0.1:1", []string{"6.6.6.6,198.51.100.7,10.9.9.9"}, "198.51.100.7"},
		{"every hop trusted", "10.0.0.1:1", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"no header", "10.0.0.1:1", nil, "10.0.0.1"},
		{"empty header", "10.0.0.1:1", []string{""}, "10.0.0.1"},
		{"malformed stops the walk", "10.0.0.1:1", []string{"198.51.100.7, garbage, 10.0.0.2"}, "10.0.0.2"},
		{"malformed at once", "10.0.0.1:1", []string{"198.51.100.7, <script>"}, "10.0.0.1"},
		{"with a port", "10.0.0.1:1", []string{"198.51.100.7:4711"}, "198.51.100.7"},
		{"IPv6 with a port", "10.0.0.1:1", []string{"[2001:db8::7]:4711"}, "2001:db8::7"},
		{"IPv6 proxy", "[2001:db8:ffff::1]:1", []string{"2001:db8::7, 2001:db8:ffff::2"}, "2001:db8::7"},
		{"mapped peer", "[::ffff:10.0.0.1]:1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"untrusted peer", "198.51.100.9:1", []string{"6.6.6.6"}, "198.51.100.9"},
		{"untrusted peer in the range's neighbour", "11.0.0.1:1", []string{"6.6.6.6"}, "11.0.0.1"},
		{"huge entry", "10.0.0.1:1", []string{strings.Repeat("1", 5000)}, "10.0.0.1"},
	} {
		var hdr []string
		for _, v := range c.xff {
			hdr = append(hdr, "X-Forwarded-For", v)
		}
		o, _ := originOf(t, mw, request(c.remote, hdr...))
		require.Equal(t, c.want, o.IP, c.name)
	}
}

func TestMiddlewareDropAndTruncate(t *testing.T) {
	t.Parallel()
	o, _ := originOf(t, audithttp.NewMiddleware(audithttp.WithoutIP()), request("203.0.113.5:1234", "User-Agent", "ua/1"))
	require.Empty(t, o.IP)
	require.Equal(t, "ua/1", o.UserAgent)

	trunc := audithttp.NewMiddleware(audithttp.WithTruncatedIP(24, 48))
	o, _ = originOf(t, trunc, request("203.0.113.77:1"))
	require.Equal(t, "203.0.113.0", o.IP)
	o, _ = originOf(t, trunc, request("[2001:db8:1:2::3]:1"))
	require.Equal(t, "2001:db8:1::", o.IP)

	// Truncation applies to the forwarded client too.
	both := audithttp.NewMiddleware(audithttp.WithTruncatedIP(16, 32),
		audithttp.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	o, _ = originOf(t, both, request("10.1.1.1:1", "X-Forwarded-For", "198.51.100.7"))
	require.Equal(t, "198.51.0.0", o.IP)

	// 0 or the whole width keeps the address whole.
	whole := audithttp.NewMiddleware(audithttp.WithTruncatedIP(0, 128))
	o, _ = originOf(t, whole, request("203.0.113.77:1"))
	require.Equal(t, "203.0.113.77", o.IP)
	o, _ = originOf(t, whole, request("[2001:db8:1:2::3]:1"))
	require.Equal(t, "2001:db8:1:2::3", o.IP)

	o, _ = originOf(t, audithttp.NewMiddleware(audithttp.WithoutUserAgent()), request("203.0.113.5:1", "User-Agent", "ua/1"))
	require.Empty(t, o.UserAgent)
	require.Equal(t, "203.0.113.5", o.IP)
}

func TestMiddlewareRequestID(t *testing.T) {
	t.Parallel()
	mw := audithttp.Middleware
	o, resp := originOf(t, mw, request("192.0.2.1:1", "X-Request-Id", "req-123_ABC/x.y"))
	require.Equal(t, "req-123_ABC/x.y", o.RequestID)
	require.Equal(t, o.RequestID, resp)

	long := strings.Repeat("a", 1000)
	o, resp = originOf(t, mw, request("192.0.2.1:1", "X-Request-Id", long))
	require.Equal(t, long[:audit.MaxOriginRequestIDBytes], o.RequestID)
	require.Equal(t, o.RequestID, resp)

	isGenerated := func(id string) {
		t.Helper()
		require.Len(t, id, 32)
		_, err := hex.DecodeString(id)
		require.NoError(t, err)
	}
	var seen []string
	for _, bad := range []string{"", "has space", "tab\there", "new\nline", "héllo", "\x00", "\x7f", "quote\"s ok?"} {
		o, resp = originOf(t, mw, request("192.0.2.1:1", "X-Request-Id", bad))
		isGenerated(o.RequestID)
		require.Equal(t, o.RequestID, resp)
		require.NotContains(t, seen, o.RequestID)
		seen = append(seen, o.RequestID)
	}
	o, _ = originOf(t, mw, request("192.0.2.1:1"))
	isGenerated(o.RequestID)
}

func TestMiddlewareCleansUserAgent(t *testing.T) {
	t.Parallel()
	o, _ := originOf(t, audithttp.Middleware, request("192.0.2.1:1", "User-Agent", "a\x00b\xffc\u2028d"+strings.Repeat("é", 1000)))
	require.True(t, utf8.ValidString(o.UserAgent))
	require.LessOrEqual(t, len(o.UserAgent), audit.MaxOriginUserAgentBytes)
	require.True(t, strings.HasPrefix(o.UserAgent, "a b\ufffdc d"), o.UserAgent)
}

// Track with the request's context records the Origin, whatever the
// request carries: an Origin is never a reason for Track to fail.
func TestMiddlewareTrackEndToEnd(t *testing.T) {
	t.Parallel()
	l, err := audit.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := l.Track(r.Context(), audit.Ref{Type: "user", ID: "u1"}, "page.viewed", nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, e.ID)
	})
	mw := audithttp.NewMiddleware(audithttp.WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")))

	// Through a real server: the peer is the loopback proxy.
	srv := httptest.NewServer(mw(app))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest("GET", srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("User-Agent", "e2e-test/1.0")
	req.Header.Set("X-Request-Id", "trace-77")
	req.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.23")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Equal(t, "trace-77", resp.Header.Get("X-Request-Id"))
	e, err := l.Get(context.Background(), string(body))
	require.NoError(t, err)
	require.Equal(t, audit.Origin{IP: "198.51.100.23", UserAgent: "e2e-test/1.0", RequestID: "trace-77"}, e.Origin)

	// Naughty strings as user agent and request id.
	h := mw(app)
	for _, s := range audittest.LoadNaughtyStrings(t) {
		r := request("192.0.2.44:9", "X-Forwarded-For", s)
		r.Header.Set("User-Agent", s)
		r.Header.Set("X-Request-Id", s)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, 200, w.Code, "%q: %s", s, w.Body.String())
		e, err := l.Get(context.Background(), w.Body.String())
		require.NoError(t, err)
		require.Equal(t, "192.0.2.44", e.Origin.IP)
		require.Equal(t, w.Header().Get("X-Request-Id"), e.Origin.RequestID)
		require.LessOrEqual(t, len(e.Origin.UserAgent), audit.MaxOriginUserAgentBytes)
		require.True(t, utf8.ValidString(e.Origin.UserAgent))
	}
}
