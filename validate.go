package audit

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
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
	for _, opt := range []int{targets, meta, len(e.IdempotencyKey), len(e.Origin.IP), len(e.Origin.UserAgent), len(e.Origin.RequestID)} {
		n++
		if opt > 0 {
			n += str + opt
		}
	}
	return n
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
