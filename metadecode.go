package audit

import (
	"encoding/json"
	"unicode/utf8"
)

// A fast decoder of stored metadata: what reads return for every event.
//
// It gives exactly what encoding/json gives when it decodes the same text
// into a map[string]any with UseNumber (unmarshalNumber): objects as
// map[string]any, arrays as []any (an empty one non-nil), numbers as
// json.Number holding the literal, strings, bools and nil; a repeated key
// keeps its last value. It does so without reflection, and its strings
// without escapes are substrings of the stored text, not copies.
//
// It handles only what it is sure of: whenever the text holds anything
// else (invalid UTF-8, which encoding/json replaces with U+FFFD; an escaped
// surrogate; nesting deeper than fastMaxDepth; a top level that is not an
// object; any syntax error), it reports that it cannot, and decodeMetadata
// decodes the text with encoding/json instead, with its values and its
// errors. TestFastMetadataDecoder and FuzzFastMetadataDecoder compare the
// two.

// fastMaxDepth is the deepest nesting the fast decoder follows (stored
// metadata is at most MaxMetadataDepth deep).
const fastMaxDepth = 128

// fastDecoder reads JSON text s from position i.
type fastDecoder struct {
	s   string
	i   int
	buf []byte // scratch for strings with escapes
}

// decodeMetadataFast decodes s, which must be one JSON object (with
// whitespace around it), as unmarshalNumber would into a map[string]any;
// ok is false when it cannot, and then m is nil.
func decodeMetadataFast(s string) (m map[string]any, ok bool) {
	d := fastDecoder{s: s}
	d.space()
	if d.i >= len(s) || s[d.i] != '{' {
		return nil, false
	}
	m, ok = d.object(0)
	if !ok {
		return nil, false
	}
	d.space()
	if d.i != len(s) {
		return nil, false
	}
	return m, true
}

// space skips JSON whitespace.
func (d *fastDecoder) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value decodes the value at d.i (whitespace skipped).
func (d *fastDecoder) value(depth int) (any, bool) {
	if d.i >= len(d.s) {
		return nil, false
	}
	switch c := d.s[d.i]; {
	case c == '"':
		return d.str()
	case c == '{':
		m, ok := d.object(depth)
		return m, ok
	case c == '[':
		return d.array(depth)
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, false
}

// literal consumes lit.
func (d *fastDecoder) literal(lit string) bool {
	if len(d.s)-d.i < len(lit) || d.s[d.i:d.i+len(lit)] != lit {
		return false
	}
	d.i += len(lit)
	return true
}

// object decodes the object at d.i ('{').
func (d *fastDecoder) object(depth int) (map[string]any, bool) {
	if depth++; depth > fastMaxDepth {
		return nil, false
	}
	d.i++ // '{'
	m := make(map[string]any)
	d.space()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return m, true
	}
	for {
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return nil, false
		}
		k, ok := d.str()
		if !ok {
			return nil, false
		}
		d.space()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return nil, false
		}
		d.i++
		d.space()
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v
		d.space()
		if d.i >= len(d.s) {
			return nil, false
		}
		switch d.s[d.i] {
		case ',':
			d.i++
			d.space()
		case '}':
			d.i++
			return m, true
		default:
			return nil, false
		}
	}
}

// array decodes the array at d.i ('[').
func (d *fastDecoder) array(depth int) ([]any, bool) {
	if depth++; depth > fastMaxDepth {
		return nil, false
	}
	d.i++ // '['
	a := make([]any, 0)
	d.space()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		return a, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		d.space()
		if d.i >= len(d.s) {
			return nil, false
		}
		switch d.s[d.i] {
		case ',':
			d.i++
			d.space()
		case ']':
			d.i++
			return a, true
		default:
			return nil, false
		}
	}
}

// number decodes the number at d.i as json.Number, checking JSON's
// grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *fastDecoder) number() (any, bool) {
	s, start := d.s, d.i
	i := d.i
	if s[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case !digits():
		return nil, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return nil, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false
		}
	}
	d.i = i
	return json.Number(s[start:i]), true
}

// str decodes the string at d.i ('"'): a substring of the text when it
// has no escapes.
func (d *fastDecoder) str() (string, bool) {
	s := d.s
	start := d.i + 1
	high := false
	i := start
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if high && !utf8.ValidString(s[start:i]) {
				return "", false
			}
			d.i = i + 1
			return s[start:i], true
		case c == '\\':
			return d.escaped(start, i, high)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	return "", false
}

// escaped decodes the rest of a string that starts at start and has its
// first escape at i.
func (d *fastDecoder) escaped(start, i int, high bool) (string, bool) {
	s := d.s
	b := append(d.buf[:0], s[start:i]...)
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			// Escapes are ASCII, which no UTF-8 sequence holds: the raw
			// text is valid UTF-8 if and only if the runs between them are.
			if high && !utf8.ValidString(s[start:i]) {
				return "", false
			}
			d.i = i + 1
			d.buf = b
			return string(b), true
		case c < 0x20:
			return "", false
		case c != '\\':
			if c >= utf8.RuneSelf {
				high = true
			}
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			if i+6 > len(s) {
				return "", false
			}
			r := rune(0)
			for _, h := range []byte(s[i+2 : i+6]) {
				switch {
				case h >= '0' && h <= '9':
					h -= '0'
				case h >= 'a' && h <= 'f':
					h -= 'a' - 10
				case h >= 'A' && h <= 'F':
					h -= 'A' - 10
				default:
					return "", false
				}
				r = r<<4 | rune(h)
			}
			if r >= 0xD800 && r <= 0xDFFF {
				return "", false // surrogates: left to encoding/json
			}
			b = utf8.AppendRune(b, r)
			i += 6
			continue
		default:
			return "", false
		}
		i += 2
	}
	return "", false
}
