package audit

import (
	"bytes"
	"crypto/rand"
	"encoding"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on event fields.
const (
	// MaxActionBytes is the longest action, in bytes.
	MaxActionBytes = 256
	// MaxFieldBytes is the longest tenant, idempotency key or Ref field, in
	// bytes.
	MaxFieldBytes = 4096
	// MaxTargets is the most targets one event may name.
	MaxTargets = 1000
)

// Redacted replaces the value of every metadata key that names a secret.
const Redacted = "[REDACTED]"

// DefaultRedactKeys are the key fragments whose values are redacted from
// metadata by default, at any depth (see WithRedactKeys).
var DefaultRedactKeys = []string{
	"password", "passwd", "passphrase", "secret", "token", "authorization",
	"cookie", "apikey", "privatekey", "credential", "sessionid", "signature",
}

// Subject is implemented by types that name themselves in the log.
type Subject interface {
	AuditRef() Ref
}

// RefOf turns an actor, resource or target into a Ref, as Track does: nil
// is the system (the zero Ref); a Ref or *Ref is used as is; a Subject uses
// AuditRef; a struct or pointer to struct with an exported ID field of
// string or integer kind becomes Ref{Type: snake_case type name, ID, Name:
// its string Name field, if any}. Anything else returns an error wrapping
// ErrInvalidEvent and ErrUnsupportedSubject.
func RefOf(v any) (Ref, error) {
	switch s := v.(type) {
	case nil:
		return Ref{}, nil
	case Ref:
		return s, nil
	case *Ref:
		if s == nil {
			return Ref{}, nil
		}
		return *s, nil
	case Subject:
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return Ref{}, nil
		}
		return s.AuditRef(), nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return Ref{}, nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return Ref{}, fmt.Errorf("%w: %w: %T has no ID", ErrInvalidEvent, ErrUnsupportedSubject, v)
	}
	sf, ok := rv.Type().FieldByName("ID")
	if !ok || !sf.IsExported() {
		return Ref{}, fmt.Errorf("%w: %w: %T has no exported ID field", ErrInvalidEvent, ErrUnsupportedSubject, v)
	}
	f, err := rv.FieldByIndexErr(sf.Index)
	if err != nil { // through a nil embedded pointer
		return Ref{}, fmt.Errorf("%w: %w: %T: ID: %w", ErrInvalidEvent, ErrUnsupportedSubject, v, err)
	}
	var id string
	switch f.Kind() {
	case reflect.String:
		id = f.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		id = strconv.FormatInt(f.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		id = strconv.FormatUint(f.Uint(), 10)
	default:
		return Ref{}, fmt.Errorf("%w: %w: %T.ID is a %s, not a string or integer", ErrInvalidEvent, ErrUnsupportedSubject, v, f.Kind())
	}
	r := Ref{Type: snakeCase(rv.Type().Name()), ID: id}
	if nf, ok := rv.Type().FieldByName("Name"); ok && nf.IsExported() && nf.Type.Kind() == reflect.String {
		if name, err := rv.FieldByIndexErr(nf.Index); err == nil {
			r.Name = name.String()
		}
	}
	return r, nil
}

// snakeCase turns a Go type name into snake_case: "BillingAccount" becomes
// "billing_account", "HTTPRequest" "http_request".
func snakeCase(s string) string {
	if i := strings.IndexByte(s, '['); i >= 0 { // generic instantiation
		s = s[:i]
	}
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 {
				prevLower := unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if prevLower || (nextLower && unicode.IsUpper(rs[i-1])) {
					b.WriteByte('_')
				}
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ValidateAction reports whether action may be recorded: valid UTF-8, 1 to
// MaxActionBytes bytes, no control characters. The error wraps
// ErrInvalidEvent.
func ValidateAction(action string) error {
	switch {
	case action == "":
		return fmt.Errorf("%w: empty action", ErrInvalidEvent)
	case len(action) > MaxActionBytes:
		return fmt.Errorf("%w: action is %d bytes, more than %d", ErrInvalidEvent, len(action), MaxActionBytes)
	case !utf8.ValidString(action):
		return fmt.Errorf("%w: action is not valid UTF-8", ErrInvalidEvent)
	}
	for i, r := range action {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: action has control character %U at byte %d", ErrInvalidEvent, r, i)
		}
	}
	return nil
}

func checkString(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidEvent, field)
	}
	if len(s) > max {
		return fmt.Errorf("%w: %s is %d bytes, more than %d", ErrInvalidEvent, field, len(s), max)
	}
	return nil
}

func checkRef(field string, r Ref) error {
	for _, f := range [...]struct{ name, v string }{{"type", r.Type}, {"id", r.ID}, {"name", r.Name}} {
		if err := checkString(field+"."+f.name, f.v, MaxFieldBytes); err != nil {
			return err
		}
	}
	return nil
}

// Earliest and latest times an event may carry: the range of int64 Unix
// nanoseconds.
var (
	minTime = time.Unix(0, -1<<63).UTC()
	maxTime = time.Unix(0, 1<<63-1).UTC()
)

// normalize validates e and puts it in the form it is stored in: metadata
// encoded, redacted and decoded again, times in UTC, outcome defaulted. The
// work it does is bounded by the size caps, not by what e holds.
func (o *options) normalize(e Event) (Event, error) {
	if err := ValidateAction(e.Action); err != nil {
		return Event{}, err
	}
	if err := checkString("tenant", e.Tenant, MaxFieldBytes); err != nil {
		return Event{}, err
	}
	if err := checkString("idempotency key", e.IdempotencyKey, MaxFieldBytes); err != nil {
		return Event{}, err
	}
	if err := checkRef("actor", e.Actor); err != nil {
		return Event{}, err
	}
	if err := checkRef("resource", e.Resource); err != nil {
		return Event{}, err
	}
	if len(e.Targets) > MaxTargets {
		return Event{}, fmt.Errorf("%w: %d targets, more than %d", ErrInvalidEvent, len(e.Targets), MaxTargets)
	}
	// The fields' own bytes are a lower bound of the encoded event: refuse
	// early, before encoding anything.
	size := len(e.ID) + len(e.Tenant) + len(e.Action) + len(e.IdempotencyKey) + refBytes(e.Actor) + refBytes(e.Resource)
	for i, t := range e.Targets {
		if err := checkRef(fmt.Sprintf("targets[%d]", i), t); err != nil {
			return Event{}, err
		}
		if size += refBytes(t); size > o.maxEvent {
			return Event{}, fmt.Errorf("%w: event is more than %d bytes encoded", ErrInvalidEvent, o.maxEvent)
		}
	}
	if len(e.Targets) == 0 {
		e.Targets = nil
	} else {
		e.Targets = append([]Ref(nil), e.Targets...)
	}
	switch e.Outcome {
	case "":
		e.Outcome = OutcomeSuccess
	case OutcomeSuccess, OutcomeFailure:
	default:
		return Event{}, fmt.Errorf("%w: outcome %q is neither %q nor %q", ErrInvalidEvent, e.Outcome, OutcomeSuccess, OutcomeFailure)
	}
	if e.OccurredAt.Before(minTime) || e.OccurredAt.After(maxTime) {
		return Event{}, fmt.Errorf("%w: occurred_at %s is outside the years 1678 to 2262", ErrInvalidEvent, e.OccurredAt.UTC().Format(time.RFC3339Nano))
	}
	e.OccurredAt = e.OccurredAt.UTC().Round(0)
	meta, tree, err := o.encodeMetadata(e.Metadata)
	if err != nil {
		return Event{}, err
	}
	e.Metadata = tree
	var targets []byte
	if e.Targets != nil {
		if targets, err = formV2.appendTargets(nil, e.Targets); err != nil {
			return Event{}, fmt.Errorf("%w: targets: %w", ErrInvalidEvent, err)
		}
	}
	if n := canonicalSize(e, len(targets), len(meta)); n > o.maxEvent {
		return Event{}, fmt.Errorf("%w: event is %d bytes encoded, more than %d", ErrInvalidEvent, n, o.maxEvent)
	}
	return e, nil
}

func refBytes(r Ref) int { return len(r.Type) + len(r.ID) + len(r.Name) }

// canonicalSize is the length of e's canonical encoding (current version)
// with targets and metadata JSON of the given lengths.
func canonicalSize(e Event, targets, meta int) int {
	const fixed = 8 + 8 + 8 + 8 // tag, seq, occurred_at, recorded_at
	const str = 4               // length prefix
	n := fixed + 9*str + len(e.ID) + len(e.Tenant) + len(e.Action) + refBytes(e.Actor) + refBytes(e.Resource)
	n += str + len(e.Outcome)
	for _, opt := range []int{targets, meta, len(e.IdempotencyKey)} {
		n++
		if opt > 0 {
			n += str + opt
		}
	}
	return n
}

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
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return invalid(fmt.Errorf("cannot be encoded as JSON: %w", err))
	}
	raw := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if !utf8.Valid(raw) || hasReplacementEscape(raw) {
		return invalid(errors.New("holds invalid UTF-8 (from a json.Marshaler, an encoding.TextMarshaler or a string)"))
	}
	var tree map[string]any
	if err := unmarshalNumber(raw, &tree); err != nil {
		return invalid(err)
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

// decodeMetadata decodes stored metadata JSON.
func decodeMetadata(raw []byte) (map[string]any, error) {
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

// redact replaces, in place, the value of every object key that names a
// secret, at any depth. It reports whether it replaced anything.
func redact(v any, keys []string) bool {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if isSecretKey(k, keys) {
				if val != Redacted {
					t[k] = Redacted
					changed = true
				}
				continue
			}
			if redact(val, keys) {
				changed = true
			}
		}
	case []any:
		for _, val := range t {
			if redact(val, keys) {
				changed = true
			}
		}
	}
	return changed
}

func normalizeKey(k string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return unicode.ToLower(r)
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

func isSecretKey(k string, keys []string) bool {
	n := normalizeKey(k)
	for _, s := range keys {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newID returns a 26-character, URL-safe, lower-case identifier: 48 bits of
// milliseconds since the epoch, so that new ids land at the end of the id
// index, and 80 random bits.
func newID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("audit: crypto/rand failed: " + err.Error())
	}
	return idEncoding.EncodeToString(b[:])
}
