package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Canonical JSON: the one byte form in which the library stores targets and
// metadata, and the only form Verify accepts. It is written and checked by
// the code in this file, not by encoding/json, so that it cannot drift with
// the Go release.
//
// A value is one of nil, bool, string, json.Number, []any, map[string]any
// (what encoding/json decodes with UseNumber). The form:
//
//   - no white space anywhere, nothing after the value;
//   - object keys in increasing byte order of their (unescaped) text, each
//     once;
//   - numbers exactly as written (any JSON number: "1", "1.0" and "1e3"
//     are three numbers, each kept as it came);
//   - strings valid UTF-8, with exactly these escapes: \" \\ \b \f \n \r \t,
//     \u00XX (lower-case hex) for the other bytes below 0x20, \u2028 and
//     \u2029; every other character as itself. Version 1 of the chain also
//     escaped < > & as \u003c \u003e \u0026 (encoding/json's default); version
//     2 does not.
//
// Targets are an array of at least one object whose keys are "type", "id"
// and "name", in that order, each present only when not empty. Metadata is
// an object with at least one key.

// jsonForm says which variant of the form: html escapes < > & (version 1).
type jsonForm struct{ html bool }

var (
	formV1 = jsonForm{html: true}
	formV2 = jsonForm{}
)

const hexDigits = "0123456789abcdef"

// appendString appends s as a canonical JSON string. s must be valid UTF-8.
func (f jsonForm) appendString(b []byte, s string) ([]byte, error) {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if f.literal(c) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return nil, errors.New("a string is not valid UTF-8")
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}

// literal reports whether the ASCII byte c stands for itself in a string.
func (f jsonForm) literal(c byte) bool {
	switch {
	case c < 0x20, c == '"', c == '\\':
		return false
	case f.html && (c == '<' || c == '>' || c == '&'):
		return false
	}
	return true
}

// appendValue appends v in canonical form. v must be one of the decoded
// types; anything else is an error (see canonicalValue).
func (f jsonForm) appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
	}
	var err error
	switch t := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		if t {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case string:
		return f.appendString(b, t)
	case json.Number:
		if !validNumber(t.String()) {
			return nil, fmt.Errorf("%q is not a JSON number", t.String())
		}
		return append(b, t...), nil
	case []any:
		b = append(b, '[')
		for i, x := range t {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = f.appendValue(b, x, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = f.appendString(b, k); err != nil {
				return nil, err
			}
			b = append(b, ':')
			if b, err = f.appendValue(b, t[k], depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	return nil, errNotDecoded
}

// errNotDecoded says a value is not one of the types encoding/json decodes
// into; canonicalValue converts such values first.
var errNotDecoded = errors.New("not a decoded JSON value")

// appendTargets appends refs as the canonical targets array.
func (f jsonForm) appendTargets(b []byte, refs []Ref) ([]byte, error) {
	b = append(b, '[')
	var err error
	for i, r := range refs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		n := 0
		for _, kv := range [...]struct{ k, v string }{{`"type":`, r.Type}, {`"id":`, r.ID}, {`"name":`, r.Name}} {
			if kv.v == "" {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = append(b, kv.k...)
			if b, err = f.appendString(b, kv.v); err != nil {
				return nil, err
			}
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// maxJSONDepth is the deepest nesting the canonical form holds. It is the
// limit of encoding/json's decoder, so every value it could decode is
// covered; the write path allows far less (MaxMetadataDepth).
const maxJSONDepth = 10000

// validNumber reports whether s is a JSON number.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// jsonChecker checks that stored JSON is in canonical form, in one pass and
// without decoding it into values. keys holds the previous key of each open
// object, for the order check; scratch unescapes the current one.
type jsonChecker struct {
	form    jsonForm
	s       string
	i       int
	keys    [][]byte
	scratch []byte
}

// checkMetadata reports whether s is canonical metadata: a non-empty
// object.
func (f jsonForm) checkMetadata(c *jsonChecker, s string) error {
	c.reset(f, s)
	if !strings.HasPrefix(s, "{") || s == "{}" {
		return errors.New("metadata is not a non-empty JSON object")
	}
	if err := c.value(0); err != nil {
		return c.fail(err)
	}
	return c.end()
}

// checkTargets reports whether s is a canonical targets array.
func (f jsonForm) checkTargets(c *jsonChecker, s string) error {
	c.reset(f, s)
	if !strings.HasPrefix(s, "[{") {
		return errors.New("targets is not a non-empty array of objects")
	}
	c.i = 1
	for {
		if err := c.target(); err != nil {
			return c.fail(err)
		}
		if c.i < len(s) && s[c.i] == ',' {
			c.i++
			continue
		}
		if c.i < len(s) && s[c.i] == ']' {
			c.i++
			return c.end()
		}
		return c.fail(errors.New("want , or ]"))
	}
}

func (c *jsonChecker) reset(f jsonForm, s string) {
	c.form, c.s, c.i = f, s, 0
	c.keys = c.keys[:0]
}

func (c *jsonChecker) fail(err error) error {
	return fmt.Errorf("not canonical JSON at byte %d: %w", c.i, err)
}

func (c *jsonChecker) end() error {
	if c.i != len(c.s) {
		return c.fail(errors.New("bytes after the value"))
	}
	return nil
}

// target checks one target object: keys type, id, name in that order, each
// optional, each a non-empty string.
func (c *jsonChecker) target() error {
	if c.i >= len(c.s) || c.s[c.i] != '{' {
		return errors.New("want a target object")
	}
	c.i++
	next := 0 // index into the allowed keys
	for first := true; ; first = false {
		if c.i < len(c.s) && c.s[c.i] == '}' {
			c.i++
			return nil
		}
		if !first {
			if c.i >= len(c.s) || c.s[c.i] != ',' {
				return errors.New("want , or }")
			}
			c.i++
		}
		key, err := c.str(true)
		if err != nil {
			return err
		}
		k := slices.Index([]string{"type", "id", "name"}, string(key))
		if k < next {
			return fmt.Errorf("target key %q is unknown, repeated or out of order", key)
		}
		next = k + 1
		if c.i >= len(c.s) || c.s[c.i] != ':' {
			return errors.New("want :")
		}
		c.i++
		v, err := c.str(true)
		if err != nil {
			return err
		}
		if len(v) == 0 {
			return errors.New("an empty target field is written, not omitted")
		}
	}
}

// value checks one value starting at c.i.
func (c *jsonChecker) value(depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
	}
	if c.i >= len(c.s) {
		return errors.New("want a value")
	}
	switch ch := c.s[c.i]; {
	case ch == '{':
		return c.object(depth)
	case ch == '[':
		c.i++
		if c.i < len(c.s) && c.s[c.i] == ']' {
			c.i++
			return nil
		}
		for {
			if err := c.value(depth + 1); err != nil {
				return err
			}
			if c.i < len(c.s) && c.s[c.i] == ',' {
				c.i++
				continue
			}
			if c.i < len(c.s) && c.s[c.i] == ']' {
				c.i++
				return nil
			}
			return errors.New("want , or ]")
		}
	case ch == '"':
		_, err := c.str(false)
		return err
	case ch == '-' || isDigit(ch):
		j := c.i
		for j < len(c.s) && (isDigit(c.s[j]) || strings.IndexByte("+-.eE", c.s[j]) >= 0) {
			j++
		}
		if !validNumber(c.s[c.i:j]) {
			return errors.New("malformed number")
		}
		c.i = j
		return nil
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if strings.HasPrefix(c.s[c.i:], lit) {
			c.i += len(lit)
			return nil
		}
	}
	return errors.New("want a value")
}

func (c *jsonChecker) object(depth int) error {
	c.i++ // {
	level := len(c.keys)
	if level < cap(c.keys) {
		c.keys = c.keys[:level+1]
		c.keys[level] = c.keys[level][:0]
	} else {
		c.keys = append(c.keys, nil)
	}
	defer func() { c.keys = c.keys[:level] }()
	if c.i < len(c.s) && c.s[c.i] == '}' {
		c.i++
		return nil
	}
	for first := true; ; first = false {
		key, err := c.str(true)
		if err != nil {
			return err
		}
		if !first && string(key) <= string(c.keys[level]) {
			return fmt.Errorf("key %q is repeated or out of order", key)
		}
		c.keys[level] = append(c.keys[level][:0], key...)
		if c.i >= len(c.s) || c.s[c.i] != ':' {
			return errors.New("want :")
		}
		c.i++
		if err := c.value(depth + 1); err != nil {
			return err
		}
		if c.i < len(c.s) && c.s[c.i] == ',' {
			c.i++
			continue
		}
		if c.i < len(c.s) && c.s[c.i] == '}' {
			c.i++
			return nil
		}
		return errors.New("want , or }")
	}
}

// str checks a string at c.i and, when keep is set, returns its unescaped
// text, valid until the next call.
func (c *jsonChecker) str(keep bool) ([]byte, error) {
	if c.i >= len(c.s) || c.s[c.i] != '"' {
		return nil, errors.New("want a string")
	}
	c.i++
	out := c.scratch[:0]
	defer func() { c.scratch = out[:0] }()
	plain := &plainBytes[0]
	if c.form.html {
		plain = &plainBytes[1]
	}
	for c.i < len(c.s) {
		// A run of characters that stand for themselves: eight bytes at a
		// time while none of them needs a look, then byte by byte.
		j := c.i
		for j+8 <= len(c.s) && plainWord(c.s[j:j+8], c.form.html) {
			j += 8
		}
		for j < len(c.s) && plain[c.s[j]] {
			j++
		}
		if keep {
			out = append(out, c.s[c.i:j]...)
		}
		c.i = j
		if c.i >= len(c.s) {
			break
		}
		ch := c.s[c.i]
		switch {
		case ch == '"':
			c.i++
			return out, nil
		case ch == '\\':
			r, n := c.escape()
			if n == 0 {
				return nil, errors.New("an escape the canonical form does not use")
			}
			if keep {
				out = utf8.AppendRune(out, r)
			}
			c.i += n
		case ch < utf8.RuneSelf:
			return nil, fmt.Errorf("byte %#x must be escaped", ch)
		default:
			r, size := utf8.DecodeRuneInString(c.s[c.i:])
			if r == utf8.RuneError && size == 1 {
				return nil, errors.New("invalid UTF-8")
			}
			if r == '\u2028' || r == '\u2029' {
				return nil, fmt.Errorf("%U must be escaped", r)
			}
			if keep {
				out = append(out, c.s[c.i:c.i+size]...)
			}
			c.i += size
		}
	}
	return nil, errors.New("unterminated string")
}

// plainWord reports whether all eight bytes of w are ASCII that stands for
// itself, testing them at once (a byte is < 0x20, '"', '\\', non-ASCII, or
// in the html form one of < > &, when the word has a zero after the
// matching subtraction or XOR).
func plainWord(w string, html bool) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	_ = w[7]
	x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
	q, bs := x^(lo*'"'), x^(lo*'\\')
	bad := (x | (x - lo*0x20) | (q-lo)&^q | (bs-lo)&^bs) & hi
	if html {
		lt, gt, amp := x^(lo*'<'), x^(lo*'>'), x^(lo*'&')
		bad |= ((lt-lo)&^lt | (gt-lo)&^gt | (amp-lo)&^amp) & hi
	}
	return bad == 0
}

// plainBytes tells the ASCII bytes that stand for themselves in a string,
// in version 2's form [0] and version 1's [1].
var plainBytes = func() (t [2][256]bool) {
	for c := 0; c < utf8.RuneSelf; c++ {
		t[0][c] = formV2.literal(byte(c))
		t[1][c] = formV1.literal(byte(c))
	}
	return t
}()

// escape reads the escape at c.i and returns the character and its length
// in bytes, or 0 when the canonical form would not write it.
func (c *jsonChecker) escape() (rune, int) {
	rest := c.s[c.i:]
	if len(rest) < 2 {
		return 0, 0
	}
	switch rest[1] {
	case '"', '\\':
		return rune(rest[1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
	default:
		return 0, 0
	}
	if len(rest) < 6 {
		return 0, 0
	}
	switch hex := rest[2:6]; hex {
	case "2028":
		return '\u2028', 6
	case "2029":
		return '\u2029', 6
	default:
		if hex[0] != '0' || hex[1] != '0' || strings.IndexByte(hexDigits, hex[2]) < 0 || strings.IndexByte(hexDigits, hex[3]) < 0 {
			return 0, 0
		}
		r := rune(strings.IndexByte(hexDigits, hex[2])<<4 | strings.IndexByte(hexDigits, hex[3]))
		// Only bytes the form escapes this way: control characters
		// without a short escape, and < > & in the html form.
		switch {
		case r < 0x20 && strings.IndexRune("\b\f\n\r\t", r) < 0:
			return r, 6
		case c.form.html && (r == '<' || r == '>' || r == '&'):
			return r, 6
		}
		return 0, 0
	}
}
