package audithttp

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/trailkit/audit"
)

// RequestIDHeader is the header the middleware reads a request id from and
// sets on the response.
const RequestIDHeader = "X-Request-Id"

// MiddlewareOption configures NewMiddleware.
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct {
	trusted        []netip.Prefix
	dropIP         bool
	v4Bits, v6Bits int // 0: keep the whole address
	dropUserAgent  bool
}

// WithTrustedProxies names the proxies (load balancers, reverse proxies)
// whose X-Forwarded-For the middleware believes. When the connection's
// peer is in one of prefixes, the middleware walks X-Forwarded-For from
// the right (the entry the nearest proxy appended) past every address in
// prefixes, and takes the first that is not: the client as the outermost
// trusted proxy saw it. Entries to the left of it, which the client could
// have forged, are never read. A malformed entry stops the walk at the
// last good address (a trusted proxy's, never the client's word). When the
// peer is not trusted, X-Forwarded-For is ignored and the IP is the
// peer's. Invalid prefixes are ignored; IPv4 prefixes also match
// IPv4-mapped IPv6 peers. Without this option no proxy is trusted.
func WithTrustedProxies(prefixes ...netip.Prefix) MiddlewareOption {
	return func(c *middlewareConfig) {
		for _, p := range prefixes {
			if p.IsValid() {
				c.trusted = append(c.trusted, p.Masked())
			}
		}
	}
}

// WithoutIP records no IP address at all (Origin.IP stays empty), for
// applications that must not keep one.
func WithoutIP() MiddlewareOption {
	return func(c *middlewareConfig) { c.dropIP = true }
}

// WithTruncatedIP records only the network part of the IP address: its
// first v4Bits bits for IPv4 (24 keeps 192.0.2.0 of 192.0.2.77) and
// v6Bits bits for IPv6 (48 keeps 2001:db8:1:: of 2001:db8:1:2::3), the
// rest set to zero. A value of 0 or less, or of the whole address (32,
// 128) or more, keeps that family's addresses whole.
func WithTruncatedIP(v4Bits, v6Bits int) MiddlewareOption {
	return func(c *middlewareConfig) { c.v4Bits, c.v6Bits = v4Bits, v6Bits }
}

// WithoutUserAgent records no user agent (Origin.UserAgent stays empty).
func WithoutUserAgent() MiddlewareOption {
	return func(c *middlewareConfig) { c.dropUserAgent = true }
}

// Middleware puts the request's audit.Origin into its context (see
// audit.ContextWithOrigin), so that Track and Record with r.Context()
// record where the request came from. It trusts no proxy: the IP is the
// connection's peer address; see NewMiddleware.
func Middleware(next http.Handler) http.Handler { return NewMiddleware()(next) }

// NewMiddleware returns a middleware that puts the request's audit.Origin
// into its context, configured by opts:
//
//   - IP: the host of r.RemoteAddr, or, behind proxies named by
//     WithTrustedProxies, the client they forwarded for; WithTruncatedIP
//     keeps its network part, WithoutIP drops it. An address that cannot be
//     read (a Unix socket's peer) gives no IP.
//   - UserAgent: the User-Agent header (WithoutUserAgent drops it).
//   - RequestID: the X-Request-Id header when it is printable ASCII
//     (cut to audit.MaxOriginRequestIDBytes), or else a new random id of 32
//     hex digits. The response carries it in X-Request-Id, so that a user
//     can quote it and an operator find the event.
//
// The values are cleaned (valid UTF-8, no control characters, cut to the
// audit.MaxOrigin limits); an Origin is never a reason for Track to fail.
func NewMiddleware(opts ...MiddlewareOption) func(http.Handler) http.Handler {
	var c middlewareConfig
	for _, o := range opts {
		o(&c)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			o := c.origin(r)
			w.Header().Set(RequestIDHeader, o.RequestID)
			next.ServeHTTP(w, r.WithContext(audit.ContextWithOrigin(r.Context(), o)))
		})
	}
}

// origin returns the Origin of r.
func (c *middlewareConfig) origin(r *http.Request) audit.Origin {
	var o audit.Origin
	if !c.dropIP {
		if ip := c.clientIP(r); ip.IsValid() {
			o.IP = ip.String()
		}
	}
	if !c.dropUserAgent {
		o.UserAgent = cleanText(r.UserAgent(), audit.MaxOriginUserAgentBytes)
	}
	o.RequestID = requestID(r.Header.Get(RequestIDHeader))
	return o
}

// clientIP returns the client's address, truncated as configured; the
// zero Addr when it cannot be read.
func (c *middlewareConfig) clientIP(r *http.Request) netip.Addr {
	ip := parseAddr(r.RemoteAddr)
	if !ip.IsValid() {
		return ip
	}
	if c.isTrusted(ip) {
		ip = c.forwardedFor(r, ip)
	}
	bits := c.v4Bits
	if ip.Is6() {
		bits = c.v6Bits
	}
	if bits > 0 && bits < ip.BitLen() {
		if p, err := ip.Prefix(bits); err == nil {
			ip = p.Addr()
		}
	}
	return ip
}

// forwardedFor walks X-Forwarded-For from the right, from the trusted peer.
func (c *middlewareConfig) forwardedFor(r *http.Request, peer netip.Addr) netip.Addr {
	var entries []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		entries = append(entries, strings.Split(h, ",")...)
	}
	ip := peer
	for i := len(entries) - 1; i >= 0; i-- {
		next := parseAddr(strings.TrimSpace(entries[i]))
		if !next.IsValid() {
			break // malformed: stop at the last address a trusted proxy gave
		}
		ip = next
		if !c.isTrusted(ip) {
			break
		}
	}
	return ip
}

func (c *middlewareConfig) isTrusted(ip netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseAddr reads an address, with or without a port ("192.0.2.1",
// "192.0.2.1:80", "[2001:db8::1]:80", "2001:db8::1"), as an unmapped
// address without zone; the zero Addr when s is none of those.
func parseAddr(s string) netip.Addr {
	if len(s) > 100 {
		return netip.Addr{}
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		host, _, serr := net.SplitHostPort(s)
		if serr != nil {
			return netip.Addr{}
		}
		if ip, err = netip.ParseAddr(host); err != nil {
			return netip.Addr{}
		}
	}
	return ip.Unmap().WithZone("")
}

// requestID returns the incoming id when it is printable ASCII (cut to
// the limit), or else a new random one.
func requestID(in string) string {
	if len(in) > audit.MaxOriginRequestIDBytes {
		in = in[:audit.MaxOriginRequestIDBytes]
	}
	ok := in != ""
	for i := 0; i < len(in) && ok; i++ {
		ok = in[i] > ' ' && in[i] < 0x7f
	}
	if ok {
		return in
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// cleanText returns s as valid UTF-8 without control characters, cut at a
// character boundary to limit bytes (the audit package cleans again, the
// same way, when it records).
func cleanText(s string, limit int) string {
	if len(s) > 4*limit {
		s = s[:4*limit]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.TrimSpace(s[:cut])
	}
	return s
}
