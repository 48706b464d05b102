package audit

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// MaxMetadataDepth is the deepest nesting of objects and arrays that
// metadata may have.
const MaxMetadataDepth = 64

// encodeMetadata returns the canonical JSON stored for m, secrets redacted,
// and its decoded form (what reads return), or nil when m is empty. It
// refuses, with work bounded by the metadata cap rather than by m, metadata
// that is too large or too deep, and invalid UTF-8 from any source (a
// string at any depth, a map key, what a json.Marshaler or
// encoding.TextMarshaler writes), which encoding/json would quietly replace
// with U+FFFD.
func (o *options) encodeMetadata(m map[string]any) ([]byte, map[string]any, error) {
	if len(m) == 0 {
		return nil, nil, nil
	}
	invalid := func(err error) ([]byte, map[string]any, error) {
		return nil, nil, fmt.Errorf("%w: metadata: %w", ErrInvalidEvent, err)
	}
	// Walk m first with a budget in proportion to the cap: encoding/json
	// builds its whole output before anyone could stop it.
	w := metaWalker{budget: 2*o.maxMetadata + 1024, limit: o.maxMetadata}
	if err := w.walk(reflect.ValueOf(m), 0); err != nil {
		return invalid(err)
	}
	var tree map[string]any
	if t, ok := plainTree(m); ok {
		tree = t.(map[string]any)
	} else {
		var err error
		if tree, err = roundTrip(m); err != nil {
			return invalid(err)
		}
	}
	if len(o.redactKeys) > 0 {
		redact(tree, o.redactKeys)
	}
	out, err := formV2.appendValue(nil, tree, 0)
	if err != nil {
		return invalid(err)
	}
	if len(out) > o.maxMetadata {
		return invalid(fmt.Errorf("%d bytes encoded, more than %d", len(out), o.maxMetadata))
	}
	if len(tree) == 0 {
		return nil, nil, nil
	}
	return out, tree, nil
}

// roundTrip returns m as encoding/json encodes it and decodes it back
// (numbers as json.Number): what metadata of any type is stored as.
func roundTrip(m map[string]any) (map[string]any, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("cannot be encoded as JSON: %w", err)
	}
	raw := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if !utf8.Valid(raw) || hasReplacementEscape(raw) {
		return nil, errors.New("holds invalid UTF-8 (from a json.Marshaler, an encoding.TextMarshaler or a string)")
	}
	var tree map[string]any
	if err := unmarshalNumber(raw, &tree); err != nil {
		return nil, err
	}
	return tree, nil
}

// plainTree returns what roundTrip would for a value made only of the
// types a JSON decoder gives (nil, bool, string, map[string]any, []any),
// Go's integer types and finite float64s, without encoding and decoding
// it: a copy, numbers as the json.Number encoding/json writes for them.
// For any other value (a struct, a marshaler, a named or typed map, slice
// or scalar, a float32, a json.Number, NaN or an infinity) ok is false and
// the caller takes the round trip. Strings and keys are valid UTF-8 here:
// metaWalker refused metadata with any that is not.
func plainTree(v any) (tree any, ok bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string, bool:
		return x, true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false
		}
		return json.Number(jsonFloat(x)), true
	case int:
		return json.Number(strconv.FormatInt(int64(x), 10)), true
	case int8:
		return json.Number(strconv.FormatInt(int64(x), 10)), true
	case int16:
		return json.Number(strconv.FormatInt(int64(x), 10)), true
	case int32:
		return json.Number(strconv.FormatInt(int64(x), 10)), true
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), true
	case uint:
		return json.Number(strconv.FormatUint(uint64(x), 10)), true
	case uint8:
		return json.Number(strconv.FormatUint(uint64(x), 10)), true
	case uint16:
		return json.Number(strconv.FormatUint(uint64(x), 10)), true
	case uint32:
		return json.Number(strconv.FormatUint(uint64(x), 10)), true
	case uint64:
		return json.Number(strconv.FormatUint(x, 10)), true
	case map[string]any:
		if x == nil {
			return nil, true // encoded as null
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if out[k], ok = plainTree(e); !ok {
				return nil, false
			}
		}
		return out, true
	case []any:
		if x == nil {
			return nil, true // encoded as null
		}
		out := make([]any, len(x))
		for i, e := range x {
			if out[i], ok = plainTree(e); !ok {
				return nil, false
			}
		}
		return out, true
	}
	return nil, false
}

// jsonFloat formats a finite float64 as encoding/json does: like
// strconv's shortest 'f' form, or 'e' form (exponent without a leading
// zero) below 1e-6 or from 1e21 on.
func jsonFloat(f float64) string {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(nil, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return string(b)
}

// hasReplacementEscape reports whether JSON text holds the escape \ufffd,
// which encoding/json writes for invalid UTF-8 (and which the canonical
// form never uses: it writes U+FFFD itself).
func hasReplacementEscape(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+5 < len(raw) && raw[i+1] == 'u' && string(raw[i+2:i+6]) == "fffd" {
			return true
		}
		i++ // the escaped character
	}
	return false
}

// decodeMetadata decodes stored metadata JSON as unmarshalNumber does into
// a map[string]any (numbers as json.Number): with the fast decoder, or,
// for text that it leaves alone, with encoding/json.
func decodeMetadata(raw string) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if m, ok := decodeMetadataFast(raw); ok {
		return m, nil
	}
	return decodeMetadataStd([]byte(raw))
}

// decodeMetadataStd is decodeMetadata with encoding/json alone.
func decodeMetadataStd(raw []byte) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var m map[string]any
	if err := unmarshalNumber(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func unmarshalNumber(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("bytes after the JSON value")
	}
	return nil
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// metaWalker visits metadata before it is encoded, as encoding/json will,
// spending budget on every value it visits (and on the bytes of strings,
// keys and marshalers' output), so that it stops after work in proportion
// to the budget however the value is built (shared sub-maps whose encoding
// doubles per level, cycles, huge maps); and it refuses nesting deeper
// than MaxMetadataDepth and invalid UTF-8.
type metaWalker struct {
	budget int
	limit  int // the cap, for the message
}

func (w *metaWalker) spend(n int) error {
	if w.budget -= n; w.budget < 0 {
		return fmt.Errorf("is more than %d bytes encoded", w.limit)
	}
	return nil
}

func (w *metaWalker) walk(v reflect.Value, depth int) error {
	if err := w.spend(1); err != nil {
		return err
	}
	if !v.IsValid() {
		return nil
	}
	if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
		return nil
	}
	if out, ok, err := marshaled(v); ok {
		if err != nil {
			return fmt.Errorf("a %s cannot be encoded: %w", v.Type(), err)
		}
		if !utf8.Valid(out) {
			return fmt.Errorf("a %s encodes to invalid UTF-8", v.Type())
		}
		return w.spend(len(out))
	}
	deeper := func() error {
		if depth+1 > MaxMetadataDepth {
			return fmt.Errorf("is nested deeper than %d levels", MaxMetadataDepth)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return fmt.Errorf("a string at depth %d is not valid UTF-8", depth)
		}
		return w.spend(len(v.String()))
	case reflect.Interface, reflect.Pointer:
		return w.walk(v.Elem(), depth)
	case reflect.Map:
		if err := deeper(); err != nil {
			return err
		}
		it := v.MapRange()
		for it.Next() {
			k := it.Key()
			if k.Kind() == reflect.String {
				if !utf8.ValidString(k.String()) {
					return fmt.Errorf("a key at depth %d is not valid UTF-8", depth+1)
				}
				if err := w.spend(len(k.String())); err != nil {
					return err
				}
			} else if out, ok, err := marshaled(k); ok {
				if err != nil {
					return fmt.Errorf("a key of type %s cannot be encoded: %w", k.Type(), err)
				}
				if !utf8.Valid(out) {
					return fmt.Errorf("a key of type %s encodes to invalid UTF-8", k.Type())
				}
				if err := w.spend(len(out)); err != nil {
					return err
				}
			}
			if err := w.walk(it.Value(), depth+1); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice {
			return w.spend(v.Len() * 4 / 3) // base64
		}
		if err := deeper(); err != nil {
			return err
		}
		for i := range v.Len() {
			if err := w.walk(v.Index(i), depth+1); err != nil {
				return err
			}
		}
	case reflect.Struct:
		if err := deeper(); err != nil {
			return err
		}
		t := v.Type()
		for i := range v.NumField() {
			f := t.Field(i)
			if (!f.IsExported() && !f.Anonymous) || f.Tag.Get("json") == "-" {
				continue
			}
			if err := w.spend(len(f.Name)); err != nil {
				return err
			}
			if err := w.walk(v.Field(i), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// marshaled calls v's MarshalJSON or MarshalText, as encoding/json would
// (on the value, or on its address when it is addressable); ok is false
// when v has neither.
func marshaled(v reflect.Value) (out []byte, ok bool, err error) {
	call := func(x reflect.Value) ([]byte, bool, error) {
		if x.Type().Implements(jsonMarshaler) {
			out, err := x.Interface().(json.Marshaler).MarshalJSON()
			return out, true, err
		}
		if x.Type().Implements(textMarshaler) {
			out, err := x.Interface().(encoding.TextMarshaler).MarshalText()
			return out, true, err
		}
		return nil, false, nil
	}
	if v.Kind() != reflect.Interface {
		if out, ok, err := call(v); ok {
			return out, ok, err
		}
		if v.CanAddr() {
			return call(v.Addr())
		}
	}
	return nil, false, nil
}
