package audit

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redacted replaces the value of every metadata key that names a secret,
// and the password or secret inside a string value (see WithRedactKeys).
const Redacted = "[REDACTED]"

// DefaultRedactKeys name the secrets redacted from metadata by default, at
// any depth. They are matched by word, as WithRedactKeys describes: a key
// names a secret when one of its words, or a run of its words, is one of
// them ("pw", "Api-Key", "x_csrf_token"), or ends with one of five letters
// or more ("newpassword", "accessToken", "PHPSESSID"); a plural counts too
// ("credentials").
var DefaultRedactKeys = []string{
	// Passwords.
	"password", "passwd", "passphrase", "pass", "pwd", "pw",
	// Secrets, tokens and keys.
	"secret", "token", "bearer", "jwt", "api_key", "private_key", "priv_key",
	"signing_key", "encryption_key", "client_key", "signature",
	// Authentication headers and credentials.
	"auth", "authorization", "authentication", "credential",
	// Sessions and cookies.
	"cookie", "session", "session_id", "sessid", "sid", "csrf", "xsrf",
	// One-time and card codes.
	"otp", "totp", "mfa_code", "recovery_code", "pin", "cvv", "cvc",
}

// countingWords end a key that names how many or how much of a secret
// there is, not the secret: a number under such a key is kept
// ("session_count": 3, "tokens_used": 1200).
var countingWords = map[string]bool{
	"count": true, "total": true, "used": true, "remaining": true, "max": true, "min": true, "limit": true,
	"length": true, "size": true, "ttl": true, "duration": true, "timeout": true, "attempts": true,
}

// tailMinLen is the length from which an entry of the redaction list also
// matches the end of a longer word ("newpassword"); shorter entries ("pw",
// "pass", "sid") must be whole words, so that "compass" and "inside" are
// kept.
const tailMinLen = 5

// redact replaces, in place, the value of every object key that names a
// secret, at any depth, and the secrets inside every other string value
// (see scrubString). It reports whether it replaced anything. keys are
// normalized (normalizeKeys).
//
// A key that names a secret keeps its value when the value cannot hold
// one (true, false, null) or is a number under a key that names a count:
// its secret word is a plural ("prompt_tokens") or its last word is a
// counting word ("session_count").
func redact(v any, keys []string) bool {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if secret, counts := matchSecret(k, keys); secret && !keepSecretValue(val, counts) {
				if val != Redacted {
					t[k] = Redacted
					changed = true
				}
				continue
			}
			if s, ok := val.(string); ok {
				if out, ok := scrubString(s, keys); ok {
					t[k] = out
					changed = true
				}
				continue
			}
			if redact(val, keys) {
				changed = true
			}
		}
	case []any:
		for i, val := range t {
			if s, ok := val.(string); ok {
				if out, ok := scrubString(s, keys); ok {
					t[i] = out
					changed = true
				}
				continue
			}
			if redact(val, keys) {
				changed = true
			}
		}
	}
	return changed
}

// keepSecretValue reports whether v, under a key that names a secret, is
// kept: true, false and null hold no secret, and a number is kept under a
// key that names a count.
func keepSecretValue(v any, counts bool) bool {
	switch v.(type) {
	case nil, bool:
		return true
	case json.Number, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return counts
	}
	return false
}

// normalizeKey returns the lower-cased letters and digits of an entry of
// the redaction list: "API-Key" and "api_key" are both "apikey".
func normalizeKey(k string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, k)
}

func normalizeKeys(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if n := normalizeKey(k); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// isSecretKey reports whether the metadata key k names a secret by one of
// keys (normalized); see matchSecret.
func isSecretKey(k string, keys []string) bool {
	secret, _ := matchSecret(k, keys)
	return secret
}

// matchSecret reports whether the metadata key k names a secret by one of
// keys (normalized), and whether it names a count of it rather than the
// secret itself.
//
// k is split into words: at every character that is not a letter or digit
// ("_", "-", ".", " ", ...), between a lower-case letter and an upper-case
// one ("apiKey"), before the last capital of a run followed by a lower-case
// letter ("APIKey" is "api", "key"), and between letters and digits
// ("password2"). k names a secret when its words, read up to the end of
// one of them and joined, end with an entry (or the entry and "s"), and
// either the entry starts at the start of a word or it has tailMinLen
// letters or more: "x_api_key" and "newpassword" match "api_key" and
// "password"; "author" and "compass" do not match "auth" and "pass". It
// names a count when every such match is a plural, or when its last word
// is a counting word.
func matchSecret(k string, keys []string) (secret, counts bool) {
	var jbuf [64]byte
	var bbuf [16]int
	joined, bounds := jbuf[:0], bbuf[:0] // lower-cased words; where each starts
	prev := rune(-1)                     // the previous letter or digit; -1 after a separator
	for i, r := range k {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			prev = -1
			continue
		}
		start := prev < 0
		if !start {
			switch {
			case unicode.IsDigit(r) != unicode.IsDigit(prev):
				start = true
			case unicode.IsUpper(r) && !unicode.IsUpper(prev):
				start = true
			case unicode.IsUpper(r) && unicode.IsUpper(prev):
				next, _ := utf8.DecodeRuneInString(k[i+utf8.RuneLen(r):])
				start = unicode.IsLower(next)
			}
		}
		if start {
			bounds = append(bounds, len(joined))
		}
		joined = utf8.AppendRune(joined, unicode.ToLower(r))
		prev = r
	}
	if len(bounds) == 0 {
		return false, false
	}
	bounds = append(bounds, len(joined))
	atWordStart := func(i int) bool {
		_, found := slices.BinarySearch(bounds, i)
		return found
	}
	hasSuffix := func(b []byte, e string) bool { return len(b) >= len(e) && string(b[len(b)-len(e):]) == e }
	singular, plural := false, false
	for _, end := range bounds[1:] {
		upTo := joined[:end]
		for _, e := range keys {
			switch {
			case hasSuffix(upTo, e):
				if start := end - len(e); len(e) >= tailMinLen || atWordStart(start) {
					singular = true
				}
			case joined[end-1] == 's' && hasSuffix(upTo[:end-1], e):
				if start := end - 1 - len(e); len(e) >= tailMinLen || atWordStart(start) {
					plural = true
				}
			}
		}
	}
	if !singular && !plural {
		return false, false
	}
	last := string(joined[bounds[len(bounds)-2]:])
	return true, !singular || countingWords[last]
}

// scrubString returns s with the secrets inside it replaced by Redacted,
// and whether it replaced any: the password of every URL written
// scheme://user:password@host and of every DSN of the Go MySQL driver
// (user:password@tcp(host)/db, user:password@/db), the user being kept;
// and the value of every name=value pair whose name names a secret by keys
// (as a metadata key would), such as "password=x" in a connection string
// ("user=app password=x host=db", "Server=db;Password=x;") or
// "access_token=x" in a URL's query. A value runs to the first ";", "&" or
// line break, or the end, and also stops at white space unless a ";"
// follows on its line; a quoted value ('x' or "x") runs to its closing
// quote.
func scrubString(s string, keys []string) (string, bool) {
	if !strings.ContainsAny(s, "@=") {
		return s, false
	}
	out := scrubPairs(scrubDSNPasswords(scrubURLPasswords(s)), keys)
	return out, out != s
}

// scrubURLPasswords replaces the password of every URL with userinfo in s.
// The authority runs from "://" to the first "/", "?", "#", white space,
// '"', "<", ">" or "`"; the userinfo is what comes before its last "@",
// and the password what follows the first ":" in it.
func scrubURLPasswords(s string) string {
	var b strings.Builder
	last := 0 // s[:last] is written to b
	for i := 0; ; {
		j := strings.Index(s[i:], "://")
		if j < 0 {
			break
		}
		start := i + j + len("://")
		end := start
		for end < len(s) && !strings.ContainsRune("/?#\"<>` \t\r\n\f\v", rune(s[end])) {
			end++
		}
		if at := strings.LastIndexByte(s[start:end], '@'); at >= 0 {
			userinfo := s[start : start+at]
			if c := strings.IndexByte(userinfo, ':'); c >= 0 && c+1 < len(userinfo) && userinfo[c+1:] != Redacted {
				b.WriteString(s[last : start+c+1])
				b.WriteString(Redacted)
				last = start + at
			}
		}
		i = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// scrubDSNPasswords replaces the password of every DSN of the Go MySQL
// driver in s: a run of characters up to white space, a quote or one of
// "<>()[]{},;=" that holds no "://" and reads user:password@ followed by
// "/" or by letters and "(".
func scrubDSNPasswords(s string) string {
	var b strings.Builder
	last := 0 // s[:last] is written to b
	for i := 0; i < len(s); {
		for i < len(s) && isDSNStop(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isDSNStop(s[j]) {
			j++
		}
		tok := s[i:j]
		if at := strings.LastIndexByte(tok, '@'); at > 0 && !strings.Contains(tok, "://") {
			after := tok[at+1:]
			protocol := after != "" && strings.TrimLeftFunc(after, isASCIILetter) == "" && j < len(s) && s[j] == '('
			if strings.HasPrefix(after, "/") || protocol {
				if c := strings.IndexByte(tok[:at], ':'); c >= 0 && c+1 < at && tok[c+1:at] != Redacted {
					b.WriteString(s[last : i+c+1])
					b.WriteString(Redacted)
					last = i + at
				}
			}
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isDSNStop(c byte) bool {
	return strings.IndexByte(" \t\r\n\f\v\"'`<>()[]{},;=", c) >= 0
}

func isASCIILetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// scrubPairs replaces the value of every name=value pair in s whose name
// names a secret by keys. A name is a run of letters, digits, "_", "-" and
// "." before the "=", which may have spaces or tabs around it ("password =
// x", as libpq allows). A number is kept under a name that names a count.
func scrubPairs(s string, keys []string) string {
	var b strings.Builder
	last := 0 // s[:last] is written to b
	var stops stopCache
	for i := 0; i < len(s); {
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			break
		}
		eq += i
		i = eq + 1
		nameEnd := eq
		for nameEnd > last && (s[nameEnd-1] == ' ' || s[nameEnd-1] == '\t') {
			nameEnd--
		}
		n := nameEnd
		for n > last {
			r, size := utf8.DecodeLastRuneInString(s[:n])
			if !isPairNameRune(r) {
				break
			}
			n -= size
		}
		if n == nameEnd {
			continue
		}
		secret, counts := matchSecret(s[n:nameEnd], keys)
		if !secret {
			continue
		}
		start := eq + 1
		for start < len(s) && (s[start] == ' ' || s[start] == '\t') {
			start++
		}
		end := pairValueEnd(s, start, &stops)
		i = max(end, i)
		v := s[start:end]
		if v == "" || v == Redacted || (counts && isDigits(v)) {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Redacted)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isPairNameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.'
}

// stopCache remembers where the next ";" or line break is, so that
// finding the ends of many values in one string stays linear.
type stopCache struct {
	from, at int  // s[from:at] holds no ";", "\n" or "\r"; s[at] is one, or at is len(s)
	semi     bool // s[at] is ";"
	valid    bool
}

// semiFollows reports whether a ";" comes after s[v] before any line
// break.
func (c *stopCache) semiFollows(s string, v int) bool {
	if !c.valid || v < c.from || v > c.at {
		k := strings.IndexAny(s[v:], ";\n\r")
		c.from, c.at, c.semi, c.valid = v, len(s), false, true
		if k >= 0 {
			c.at, c.semi = v+k, s[v+k] == ';'
		}
	}
	return c.semi
}

// pairValueEnd returns where the value of a name=value pair that starts
// at s[v] ends; see scrubString. A quoted part runs to its closing quote,
// and the value goes on from there as an unquoted one would.
func pairValueEnd(s string, v int, stops *stopCache) int {
	if v < len(s) && (s[v] == '\'' || s[v] == '"') {
		q, closed := s[v], false
		for v++; v < len(s) && !closed; v++ {
			switch {
			case s[v] == '\\' && q == '\'':
				v++ // an escaped character
			case s[v] == q && v+1 < len(s) && s[v+1] == q:
				v++ // a doubled quote
			case s[v] == q:
				closed = true
			}
		}
		v = min(v, len(s))
	}
	// Values with spaces need a ";" after them, as in ADO.NET and ODBC
	// connection strings ("Password=my secret;").
	spaced := stops.semiFollows(s, v)
	for k := v; k < len(s); k++ {
		switch s[k] {
		case ';', '&', '\n', '\r':
			return k
		case ' ', '\t', '\f', '\v':
			if !spaced {
				return k
			}
		}
	}
	return len(s)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
