package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/trailkit/audit/internal/sqlcore"
)

// Fuzz targets. Each runs its seeds (f.Add and testdata/fuzz) as part of go
// test; .ci/run also fuzzes each for a short, bounded time:
//
//	go test -run='^$' -fuzz='^FuzzCursor$' -fuzztime=10s .

func FuzzCursor(f *testing.F) {
	f.Add("", "", "", 50, int64(2), 2)
	f.Add("AQAAAAAAAAAAAgI", "acme", "user.login", 5, int64(100), 3)
	f.Add("not a cursor", "t", "a", 1000, int64(1<<62), 1<<40)
	f.Fuzz(func(t *testing.T, cursor, tenant, action string, per int, before int64, page int) {
		bind := binding(Filter{Tenant: tenant, Action: action}, viewTenant, per)
		if seq, pg, err := decodeCursor(cursor, bind); err == nil {
			if seq < 2 || pg < 2 {
				t.Fatalf("decoded out-of-range cursor: seq %d page %d", seq, pg)
			}
			if again := encodeCursor(bind, seq, pg); again != cursor {
				// Only the canonical text decodes: no two cursors mean the same.
				if _, _, err := decodeCursor(again, bind); err != nil {
					t.Fatalf("re-encoded cursor does not decode: %v", err)
				}
			}
		} else if !errors.Is(err, ErrInvalidCursor) {
			t.Fatalf("error does not wrap ErrInvalidCursor: %v", err)
		}
		if before < 2 || before > 1<<62 || page < 2 || page > 1<<40 {
			return
		}
		c := encodeCursor(bind, before, page)
		seq, pg, err := decodeCursor(c, bind)
		if err != nil || seq != before || pg != page {
			t.Fatalf("round trip: %d %d -> %q -> %d %d %v", before, page, c, seq, pg, err)
		}
		other := binding(Filter{Tenant: tenant + "x", Action: action}, viewTenant, per)
		if _, _, err := decodeCursor(c, other); !errors.Is(err, ErrInvalidCursor) {
			t.Fatalf("cursor accepted by another tenant")
		}
		for _, view := range []viewKind{viewRoot, viewAll} {
			if _, _, err := decodeCursor(c, binding(Filter{Tenant: tenant, Action: action}, view, per)); !errors.Is(err, ErrInvalidCursor) {
				t.Fatalf("cursor accepted by another view")
			}
		}
	})
}

func FuzzQuery(f *testing.F) {
	f.Add(0, 0, "", "", "", "", "", "", int64(0), int64(0))
	f.Add(3, 2000, "user.login", "42", "project", "p1", "inv", "acme", int64(1), int64(2))
	f.Add(-1, -5, "\xff", "", "", "", "", "", int64(5), int64(1))
	f.Fuzz(func(t *testing.T, page, per int, action, actor, rtype, rid, search, tenant string, since, until int64) {
		l := &Logger{tenant: tenant}
		q := Query{Page: page, PerPage: per, Action: action, ActorID: actor, ResourceType: rtype, ResourceID: rid, Search: search}
		if since != 0 {
			q.Since = time.Unix(0, since)
		}
		if until != 0 {
			q.Until = time.Unix(0, until)
		}
		f, gotPer, err := l.filter(q, DefaultPerPage)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("error does not wrap ErrInvalidQuery: %v", err)
			}
			return
		}
		if gotPer < 1 || gotPer > MaxPerPage {
			t.Fatalf("per page %d", gotPer)
		}
		for _, s := range []string{f.Tenant, f.Action, f.ActorID, f.ResourceType, f.ResourceID, f.Search} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 accepted: %q", s)
			}
		}
		if f.Search != strings.ToLower(search) || f.Tenant != tenant {
			t.Fatalf("filter changed its inputs")
		}
		if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
			t.Fatalf("until before since accepted")
		}
	})
}

type fuzzNamed struct {
	ID   string
	Name string
}

type fuzzInt struct{ ID int64 }

type fuzzUint struct{ ID uint8 }

type fuzzFloat struct{ ID float64 }

type fuzzSubject struct{ key string }

func (s *fuzzSubject) AuditRef() Ref { return Ref{Type: "s", ID: s.key} }

func FuzzSubject(f *testing.F) {
	for k := range byte(10) {
		f.Add(k, "id", int64(-7))
	}
	f.Add(byte(0), "\xff", int64(0))
	f.Fuzz(func(t *testing.T, kind byte, s string, n int64) {
		var v any
		var want *Ref
		switch kind % 10 {
		case 0:
			v, want = fuzzNamed{ID: s, Name: s}, &Ref{Type: "fuzz_named", ID: s, Name: s}
		case 1:
			v = &fuzzInt{ID: n}
		case 2:
			v, want = fuzzUint{ID: uint8(n)}, &Ref{Type: "fuzz_uint", ID: strconv.FormatUint(uint64(uint8(n)), 10)}
		case 3:
			v = fuzzFloat{ID: float64(n)}
		case 4:
			v, want = Ref{Type: s, ID: s}, &Ref{Type: s, ID: s}
		case 5:
			v = s
		case 6:
			v = map[string]any{"ID": s}
		case 7:
			v, want = &fuzzSubject{key: s}, &Ref{Type: "s", ID: s}
		case 8:
			v = (*fuzzNamed)(nil)
		case 9:
			v = []byte(s)
		}
		r, err := RefOf(v)
		switch {
		case kind%10 == 1:
			if err != nil || r.ID != strconv.FormatInt(n, 10) || r.Type != "fuzz_int" {
				t.Fatalf("int ID: %+v %v", r, err)
			}
		case want != nil:
			if err != nil || r != *want {
				t.Fatalf("%T: got %+v %v, want %+v", v, r, err, *want)
			}
		case kind%10 == 8:
			if !errors.Is(err, ErrNilSubject) || !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("nil %T accepted or wrong error: %+v %v", v, r, err)
			}
		default:
			if !errors.Is(err, ErrUnsupportedSubject) || !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("%T accepted or wrong error: %+v %v", v, r, err)
			}
		}
		if err != nil && strings.Count(err.Error(), "audit:") != 1 {
			t.Fatalf("the error does not say audit: once: %v", err)
		}
	})
}

func FuzzCanonical(f *testing.F) {
	f.Add(int64(1), "id", "tenant", "user.login", "user", "42", "Alice", "doc", "k", "note", "hello", int64(1700000000000000000), int64(1700000000000000001), true, []byte("audit.v1"))
	f.Add(int64(99), "", "", "a", "", "", "", "", "", "", "", int64(0), int64(-1), false, []byte{})
	f.Fuzz(func(t *testing.T, seq int64, id, tenant, action, atype, aid, aname, rid, key, mk, mv string, occ, rec int64, failed bool, raw []byte) {
		// Arbitrary bytes never panic the decoder, and what decodes
		// re-encodes to the same bytes.
		if e, err := DecodeCanonical(raw); err == nil {
			again, err := Canonical(e)
			if err != nil {
				t.Fatalf("decoded event does not encode: %v", err)
			}
			e2, err := DecodeCanonical(again)
			if err != nil || !sameCanonical(t, e, e2) {
				t.Fatalf("decode(encode(decode(raw))) differs: %v", err)
			}
		}
		o, _ := buildOptions(scopeLogger, []Option{WithRedactKeys()})
		e := Event{
			Seq: seq, ID: id, Tenant: tenant, Action: action,
			Actor: Ref{Type: atype, ID: aid, Name: aname}, Resource: Ref{ID: rid},
			Targets:        []Ref{{ID: aid}, {Type: atype}},
			IdempotencyKey: key, Metadata: map[string]any{mk: mv, "n": 1.5, "list": []any{mv, nil, true}},
			OccurredAt: time.Unix(0, occ), RecordedAt: time.Unix(0, rec).UTC(),
		}
		if failed {
			e.Outcome = OutcomeFailure
		}
		e, err := o.normalize(e)
		if err != nil {
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("error does not wrap ErrInvalidEvent: %v", err)
			}
			return
		}
		b, err := Canonical(e)
		if err != nil {
			t.Fatal(err)
		}
		d, err := DecodeCanonical(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !sameCanonical(t, e, d) {
			t.Fatalf("decode(encode(e)) != e\n%+v\n%+v", e, d)
		}
		h1, err1 := ChainHash(genesisHash, e)
		h2, err2 := ChainHash(nil, d)
		if err1 != nil || err2 != nil || !bytes.Equal(h1, h2) {
			t.Fatalf("hash not stable: %x %x %v %v", h1, h2, err1, err2)
		}
	})
}

// sameCanonical compares the fields the canonical encoding covers.
func sameCanonical(t *testing.T, a, b Event) bool {
	t.Helper()
	ea, err1 := Canonical(a)
	eb, err2 := Canonical(b)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb) &&
		a.Seq == b.Seq && a.ID == b.ID && a.Tenant == b.Tenant && a.Action == b.Action &&
		a.Actor == b.Actor && a.Resource == b.Resource && len(a.Targets) == len(b.Targets) &&
		a.Outcome == b.Outcome && a.IdempotencyKey == b.IdempotencyKey &&
		a.OccurredAt.Equal(b.OccurredAt) && a.RecordedAt.Equal(b.RecordedAt) &&
		len(a.Metadata) == len(b.Metadata)
}

func FuzzAction(f *testing.F) {
	for _, s := range []string{"user.login", "", "a.b.c.", ".", "Ünïcode.Äction", "tab\there", strings.Repeat("x", 257), "\xff", "100%_off*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateAction(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("error does not wrap ErrInvalidEvent: %v", err)
			}
			return
		}
		if s == "" || len(s) > MaxActionBytes || !utf8.ValidString(s) {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) {
				t.Fatalf("accepted control character in %q", s)
			}
		}
		lower := strings.ToLower(s)
		terms := sqlcore.ActionTerms(s)
		if len(terms) == 0 || terms[0] != lower {
			t.Fatalf("first term of %q is %q", s, terms)
		}
		for _, term := range terms {
			if !strings.HasSuffix(lower, term) || term == "" {
				t.Fatalf("term %q is not a suffix of %q", term, lower)
			}
			// Every term matches the action by its own prefix.
			if up, ok := sqlcore.PrefixEnd(term); ok && !(term < up) {
				t.Fatalf("range end %q not after %q", up, term)
			}
		}
	})
}

// FuzzCanonicalJSON checks the canonical JSON checker against the encoder:
// the checker accepts exactly the texts that decode and encode back to
// themselves, in both forms; and the version 1 encoder writes what
// encoding/json's Marshal writes, which is what version 1 rows hold.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `{"a":[1,"two"],"b":"x","i":2}`, `{"a":1,"a":2}`, `{"b":1,"a":2}`, `{"a":1} {"b":2}`,
		`{ "a":1}`, `{"a":"\u003c"}`, `{"a":"<"}`, `{"a":"\u2028"}`, "{\"a\":\"\u2028\"}", `{"a":"\u0041"}`,
		`{"a":"\b\f\n\r\t\u0000\u001f"}`, `{"a":1.0,"b":-0,"c":1e+05,"d":01}`, `{"é":{"ü":[true,false,null,{}]}}`,
		`{"a":"\/"}`, `{"":""}`, `{}`, `[]`, `"x"`, `{"a":"` + "\xff" + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := string(raw)
		for _, form := range []jsonForm{formV1, formV2} {
			var c jsonChecker
			accepted := form.checkMetadata(&c, s) == nil
			var v map[string]any
			roundTrips := false
			if utf8.ValidString(s) && json.Valid(raw) && unmarshalNumber(raw, &v) == nil && len(v) > 0 {
				again, err := form.appendValue(nil, v, 0)
				roundTrips = err == nil && string(again) == s
			}
			if accepted != roundTrips {
				t.Fatalf("html=%v: checker says %v, round trip says %v, for %q", form.html, accepted, roundTrips, s)
			}
			if v != nil {
				want, err1 := json.Marshal(v)
				got, err2 := formV1.appendValue(nil, v, 0)
				if err1 == nil && err2 == nil && !bytes.Equal(want, got) && utf8.Valid(raw) {
					t.Fatalf("version 1 encoder differs from encoding/json:\n%s\n%s", want, got)
				}
			}
		}
	})
}

func FuzzRedact(f *testing.F) {
	for _, s := range [][2]string{
		{"password", "postgres://user:secret@host/db"},
		{"note", "user=x password='se cr\\'et' host=y"},
		{"dsn", "Server=db;Password=\"a;b\"\"c\";x=1"},
		{"tokens_used", "root:pw@tcp(h:3306)/db?token=x&y=z"},
		{"XApiKey", "=@://:@(=;&'\""},
		{"author", "app:pw@/db password = x"},
	} {
		f.Add(s[0], s[1])
	}
	keys := normalizeKeys(DefaultRedactKeys)
	f.Fuzz(func(t *testing.T, key, value string) {
		if !utf8.ValidString(key) || !utf8.ValidString(value) {
			return
		}
		// Scrubbing a string keeps it valid UTF-8, and scrubbing it again
		// changes nothing.
		once, _ := scrubString(value, keys)
		if !utf8.ValidString(once) {
			t.Fatalf("scrubbed %q to invalid UTF-8 %q", value, once)
		}
		if twice, changed := scrubString(once, keys); changed {
			t.Fatalf("scrubbing is not idempotent: %q -> %q -> %q", value, once, twice)
		}
		// A key that names a secret hides its string value, at any depth.
		m := map[string]any{key: value, "list": []any{map[string]any{key: value}}}
		redact(m, keys)
		if isSecretKey(key, keys) {
			if m[key] != Redacted {
				t.Fatalf("%q names a secret but %q was kept", key, value)
			}
		} else if m[key] != once {
			t.Fatalf("%q: got %q, want the scrubbed %q", key, m[key], once)
		}
		if inner := m["list"].([]any)[0].(map[string]any); key != "list" && inner[key] != m[key] {
			t.Fatalf("%q: redacted %q at the top but %q in a list", key, m[key], inner[key])
		}
	})
}

// FuzzQueryShape checks the read model's fields of a Query: whatever is
// accepted is a shape that means something, and every refusal wraps
// ErrInvalidQuery.
func FuzzQueryShape(f *testing.F) {
	f.Add("acct_1", "", "", "", "", "", uint8(0), int64(0), int64(0))
	f.Add("x", "account", "api_key", "failure", "billing.*", "r", uint8(1), int64(10), int64(5))
	f.Add("", "t", "\xff", "maybe", ".*", "", uint8(7), int64(-1), int64(0))
	f.Fuzz(func(t *testing.T, subject, subjectType, actorType, outcome, action, resourceID string, order uint8, from, to int64) {
		l := &Logger{}
		q := Query{Subject: subject, SubjectType: subjectType, ActorType: actorType, Outcome: outcome, Action: action,
			ResourceID: resourceID, Order: Order(order), FromSeq: from, ToSeq: to}
		f, _, err := l.filter(q, DefaultPerPage)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("error does not wrap ErrInvalidQuery: %v", err)
			}
			return
		}
		switch {
		case f.Outcome != "" && f.Outcome != OutcomeSuccess && f.Outcome != OutcomeFailure:
			t.Fatalf("outcome %q accepted", f.Outcome)
		case order > 1:
			t.Fatalf("order %d accepted", order)
		case f.OldestFirst != (order == 1):
			t.Fatalf("order %d became oldest first %v", order, f.OldestFirst)
		case strings.HasSuffix(f.Action, ".*"):
			t.Fatalf("action %q accepted", f.Action)
		case f.Subject != "" && f.ResourceID != "":
			t.Fatalf("subject with resource id accepted")
		case f.SubjectType != "" && f.Subject == "":
			t.Fatalf("subject type alone accepted")
		case f.FromSeq < 0 || f.ToSeq < 0 || f.ToSeq > 0 && f.FromSeq > f.ToSeq:
			t.Fatalf("seq range %d..%d accepted", f.FromSeq, f.ToSeq)
		}
		for _, s := range []string{f.Subject, f.SubjectType, f.ActorType} {
			if !utf8.ValidString(s) || len(s) > MaxFieldBytes {
				t.Fatalf("field %q accepted", s)
			}
		}
	})
}
