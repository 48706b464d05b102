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
	"slices"
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

// Subject is implemented by types that name themselves in the log.
type Subject interface {
	AuditRef() Ref
}

// RefOf turns an actor, resource or target into a Ref, as Track does:
//
//   - an untyped nil is the system (the zero Ref);
//   - a Ref, or a non-nil *Ref, is used as is;
//   - a Subject uses its AuditRef method;
//   - a struct, or a non-nil pointer to one, with an exported ID field of
//     string or integer kind becomes Ref{Type: its type name in
//     snake_case, ID: the ID in base 10, Name: its string Name field, if
//     any}.
//
// A nil pointer of any type, *Ref and Subjects included, and a nil map,
// slice, func or channel that implements Subject, is refused with an error
// wrapping ErrInvalidEvent and ErrNilSubject: a (*User)(nil) is most often a
// user who is not logged in, not the system. Anything else returns an
// error wrapping ErrInvalidEvent and ErrUnsupportedSubject, and so does a
// panic in an AuditRef method (such as a value method reached through a nil
// embedded pointer): RefOf never panics.
func RefOf(v any) (Ref, error) {
	if v == nil {
		return Ref{}, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return Ref{}, invalidSubject(ErrNilSubject, "%T is a nil pointer; only an untyped nil is the system", v)
		}
	case reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		if _, ok := v.(Subject); ok && rv.IsNil() {
			return Ref{}, invalidSubject(ErrNilSubject, "%T is nil; only an untyped nil is the system", v)
		}
	}
	switch s := v.(type) {
	case Ref:
		return s, nil
	case *Ref:
		return *s, nil
	case Subject:
		return auditRef(s)
	}
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return Ref{}, invalidSubject(ErrUnsupportedSubject, "%T has no ID field and no AuditRef method", v)
	}
	sf, ok := rv.Type().FieldByName("ID")
	if !ok || !sf.IsExported() {
		return Ref{}, invalidSubject(ErrUnsupportedSubject, "%T has no exported ID field", v)
	}
	f, err := rv.FieldByIndexErr(sf.Index)
	if err != nil { // through a nil embedded pointer
		return Ref{}, invalidSubject(ErrUnsupportedSubject, "%T.ID cannot be read: %w", v, err)
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
		return Ref{}, invalidSubject(ErrUnsupportedSubject, "%T.ID is a %s, not a string or integer", v, f.Kind())
	}
	r := Ref{Type: snakeCase(rv.Type().Name()), ID: id}
	if nf, ok := rv.Type().FieldByName("Name"); ok && nf.IsExported() && nf.Type.Kind() == reflect.String {
		if name, err := rv.FieldByIndexErr(nf.Index); err == nil {
			r.Name = name.String()
		}
	}
	return r, nil
}

// auditRef calls s.AuditRef and returns a panic in it, as fmt does for a
// String method: a value method reached through a nil embedded pointer
// panics in code the compiler generates.
func auditRef(s Subject) (r Ref, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = invalidSubject(ErrUnsupportedSubject, "%T.AuditRef panicked: %v", s, p)
		}
	}()
	return s.AuditRef(), nil
}

// eventError is the error of an event that cannot be recorded. It reads
// "audit: invalid event: <detail>", where the detail starts with the field
// it is about ("actor: ", "targets[2].id ..."), and wraps ErrInvalidEvent,
// the further sentinel it carries (ErrUnsupportedSubject, ErrNilSubject)
// and the error that caused it, if any, without repeating their text: the
// message says "audit:" once.
type eventError struct {
	detail string
	errs   []error // ErrInvalidEvent first
}

func (e *eventError) Error() string   { return ErrInvalidEvent.Error() + ": " + e.detail }
func (e *eventError) Unwrap() []error { return e.errs }

// invalidEvent returns an eventError whose detail is formatted from format
// and args, as fmt.Errorf formats; the errors of %w verbs are wrapped too.
func invalidEvent(format string, args ...any) error {
	return newEventError(nil, fmt.Errorf(format, args...))
}

// invalidSubject is invalidEvent for an actor, resource or target that
// cannot become a Ref; the error also wraps sentinel.
func invalidSubject(sentinel error, format string, args ...any) error {
	return newEventError(sentinel, fmt.Errorf(format, args...))
}

func newEventError(sentinel, detail error) *eventError {
	errs := []error{ErrInvalidEvent}
	if sentinel != nil {
		errs = append(errs, sentinel)
	}
	switch w := detail.(type) {
	case interface{ Unwrap() error }:
		errs = append(errs, w.Unwrap())
	case interface{ Unwrap() []error }:
		errs = append(errs, w.Unwrap()...)
	}
	return &eventError{detail: detail.Error(), errs: errs}
}

// inField names the field an invalid-event error is about:
// "audit: invalid event: actor: ...".
func inField(field string, err error) error {
	if e, ok := err.(*eventError); ok {
		return &eventError{detail: field + ": " + e.detail, errs: e.errs}
	}
	return invalidEvent("%s: %w", field, err)
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
		return invalidEvent("empty action")
	case len(action) > MaxActionBytes:
		return invalidEvent("action is %d bytes, more than %d", len(action), MaxActionBytes)
	case !utf8.ValidString(action):
		return invalidEvent("action is not valid UTF-8")
	}
	for i, r := range action {
		if unicode.IsControl(r) {
			return invalidEvent("action has control character %U at byte %d", r, i)
		}
	}
	return nil
}

func checkString(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return invalidEvent("%s is not valid UTF-8", field)
	}
	if len(s) > max {
		return invalidEvent("%s is %d bytes, more than %d", field, len(s), max)
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
