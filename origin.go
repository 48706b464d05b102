package audit

import (
	"context"
	"strings"
	"unicode/utf8"
)

// Origin is the request an event came from: the client's IP address, its
// user agent and the request's id. It is stored in its own columns and
// covered by the hash chain. Headers are never recorded wholesale.
type Origin struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// IsZero reports whether o holds nothing.
func (o Origin) IsZero() bool { return o == Origin{} }

// The longest origin fields, in bytes: longer values are cut (at a
// character boundary), never refused.
const (
	MaxOriginIPBytes        = 64
	MaxOriginUserAgentBytes = 512
	MaxOriginRequestIDBytes = 128
)

type originKey struct{}

// ContextWithOrigin returns a copy of ctx that carries o: Track and Record
// with that context fill Event.Origin from it when the event has none. The
// HTTP middleware of package audithttp sets it for every request.
func ContextWithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFromContext returns the Origin that ContextWithOrigin put in ctx, if
// any.
func OriginFromContext(ctx context.Context) (Origin, bool) {
	o, ok := ctx.Value(originKey{}).(Origin)
	return o, ok
}

// clean returns o as it is stored: each field valid UTF-8 (invalid bytes
// replaced with U+FFFD), without control characters, trimmed, and cut to
// its limit. An origin is data about the request, never a reason to refuse
// the event.
func (o Origin) clean() Origin {
	return Origin{
		IP:        cleanField(o.IP, MaxOriginIPBytes),
		UserAgent: cleanField(o.UserAgent, MaxOriginUserAgentBytes),
		RequestID: cleanField(o.RequestID, MaxOriginRequestIDBytes),
	}
}

func cleanField(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut])
}
