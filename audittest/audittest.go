// Package audittest is the conformance suite that every audit.Store must
// pass. It drives a Logger built on the store through the public API only:
//
//	func TestMyStore(t *testing.T) {
//		audittest.Run(t, func(t *testing.T) audit.Store { return newMyStore(t) })
//	}
//
// newStore must return a new, empty store each time it is called; the suite
// runs its cases in parallel and closes each store through its Logger.
//
// The naughty-strings case writes the suite's own hard strings (see
// HardStrings) through every string field, and also every string of the Big
// List of Naughty Strings when shared/testdata/blns.json is found in the
// working directory or its parents (or at $AUDIT_BLNS); see
// LoadNaughtyStrings. Nothing is skipped when the list is absent.
package audittest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// NewStore returns a new, empty store for one test.
type NewStore func(t *testing.T) audit.Store

// Run runs the conformance suite against the stores newStore makes.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	for _, c := range []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"RoundTrip", testRoundTrip},
		{"Subjects", testSubjects},
		{"InvalidEvents", testInvalidEvents},
		{"Idempotency", testIdempotency},
		{"IdempotencyRace", testIdempotencyRace},
		{"Paging", testPaging},
		{"PagingWhileWriting", testPagingWhileWriting},
		{"Cursors", testCursors},
		{"Filters", testFilters},
		{"PageNumbers", testPageNumbers},
		{"TimeEdges", testTimeEdges},
		{"TimeOrderError", testTimeOrderError},
		{"ForAccount", testForAccount},
		{"Search", testSearch},
		{"Actions", testActions},
		{"Tenants", testTenants},
		{"ViewsAreCapabilities", testViewsAreCapabilities},
		{"AllTenantsPages", testAllTenantsPages},
		{"AllTenantsReads", testAllTenantsReads},
		{"AllTenantsNaughty", testAllTenantsNaughty},
		{"Redaction", testRedaction},
		{"NaughtyStrings", testNaughtyStrings},
		{"ConcurrentWritersAndReaders", testConcurrent},
		{"Closed", testClosed},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newStore)
		})
	}
}

// setup returns a Logger on a new store, closed when the test ends.
func setup(t *testing.T, newStore NewStore, opts ...audit.Option) *audit.Logger {
	t.Helper()
	l, err := audit.New(newStore(t), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l
}

type user struct {
	ID    int64
	Name  string
	Email string
}

type BillingAccount struct {
	ID   string
	Name string
}

type named struct{ key string }

// Base is embedded by pointer; embedsNil{} reaches ID through nil.
type Base struct{ ID string }

type embedsNil struct{ *Base }

func (n named) AuditRef() audit.Ref { return audit.Ref{Type: "custom", ID: n.key, Name: "N"} }

// pointerNamed names itself with a pointer method.
type pointerNamed struct{ key string }

func (n *pointerNamed) AuditRef() audit.Ref { return audit.Ref{Type: "pointer", ID: n.key} }

// funcNamed is a Subject that can be nil without being a pointer.
type funcNamed func() audit.Ref

func (f funcNamed) AuditRef() audit.Ref { return f() }

// embedsNilNamed promotes named.AuditRef, a value method, through a
// pointer: embedsNilNamed{} calls it through nil.
type embedsNilNamed struct{ *named }

var urlSafe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func total(t *testing.T, l *audit.Logger) int {
	t.Helper()
	p, err := l.Recent(t.Context(), audit.Query{PerPage: 1})
	require.NoError(t, err)
	return p.TotalCount
}

// all walks every page of q and returns the entries.
func all(t *testing.T, l *audit.Logger, q audit.Query) []audit.Event {
	t.Helper()
	var out []audit.Event
	for range 100000 {
		p, err := l.Recent(t.Context(), q)
		require.NoError(t, err)
		out = append(out, p.Entries...)
		if p.Next == "" {
			return out
		}
		q.After = p.Next
	}
	t.Fatal("paging did not end")
	return nil
}

// sameEvent compares two events field by field, times to the nanosecond.
func sameEvent(t *testing.T, want, got audit.Event) {
	t.Helper()
	require.Equal(t, want.ID, got.ID)
	require.Equal(t, want.Seq, got.Seq)
	require.Equal(t, want.Tenant, got.Tenant)
	require.Equal(t, want.Action, got.Action)
	require.Equal(t, want.Actor, got.Actor)
	require.Equal(t, want.Resource, got.Resource)
	require.Equal(t, want.Targets, got.Targets)
	require.Equal(t, want.Outcome, got.Outcome)
	require.Equal(t, want.Metadata, got.Metadata)
	require.Equal(t, want.IdempotencyKey, got.IdempotencyKey)
	require.True(t, want.OccurredAt.Equal(got.OccurredAt), "occurred_at %v != %v", want.OccurredAt, got.OccurredAt)
	require.True(t, want.RecordedAt.Equal(got.RecordedAt), "recorded_at %v != %v", want.RecordedAt, got.RecordedAt)
	require.Equal(t, want.Hash, got.Hash)
	require.Equal(t, want.PrevHash, got.PrevHash)
}

func testRoundTrip(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.FixedZone("X", 3600))
	alice := user{ID: 7, Name: "Alice"}
	e, err := l.Track(ctx, alice, "project.deleted", BillingAccount{ID: "acct_1", Name: "Acme"},
		audit.WithTargets(audit.Ref{Type: "project", ID: "p1"}, &user{ID: 8}),
		audit.WithMeta("reason", "cleanup"),
		audit.WithMetadata(map[string]any{"count": 3, "nested": map[string]any{"ok": true}}),
		audit.WithIdempotencyKey("req-1"),
		audit.Failed(),
		audit.At(at),
	)
	require.NoError(t, err)
	require.Regexp(t, urlSafe, e.ID)
	require.Equal(t, int64(1), e.Seq)
	require.Equal(t, "project.deleted", e.Action)
	require.Equal(t, audit.Ref{Type: "user", ID: "7", Name: "Alice"}, e.Actor)
	require.Equal(t, audit.Ref{Type: "billing_account", ID: "acct_1", Name: "Acme"}, e.Resource)
	require.Equal(t, []audit.Ref{{Type: "project", ID: "p1"}, {Type: "user", ID: "8"}}, e.Targets)
	require.Equal(t, audit.OutcomeFailure, e.Outcome)
	require.Equal(t, map[string]any{"reason": "cleanup", "count": json.Number("3"), "nested": map[string]any{"ok": true}}, e.Metadata)
	require.Equal(t, "req-1", e.IdempotencyKey)
	require.True(t, at.Equal(e.OccurredAt))
	require.False(t, e.RecordedAt.IsZero())
	require.WithinDuration(t, time.Now(), e.RecordedAt, time.Minute)

	got, err := l.Get(ctx, e.ID)
	require.NoError(t, err)
	sameEvent(t, e, got)

	p, err := l.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Len(t, p.Entries, 1)
	sameEvent(t, e, p.Entries[0])

	// Defaults: system actor, success, now.
	sys, err := l.Track(ctx, nil, "system.tick", nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), sys.Seq)
	require.True(t, sys.Actor.IsZero())
	require.True(t, sys.Resource.IsZero())
	require.Equal(t, audit.OutcomeSuccess, sys.Outcome)
	require.WithinDuration(t, time.Now(), sys.OccurredAt, time.Minute)
	require.NotEqual(t, e.ID, sys.ID)

	// Record: caller-set ID, Seq and RecordedAt are replaced.
	rec, err := l.Record(ctx, audit.Event{ID: "mine", Seq: 99, Action: "x.y", RecordedAt: at})
	require.NoError(t, err)
	require.NotEqual(t, "mine", rec.ID)
	require.Equal(t, int64(3), rec.Seq)
	require.False(t, rec.RecordedAt.Equal(at))

	_, err = l.Get(ctx, "no-such-id")
	require.ErrorIs(t, err, audit.ErrNotFound)
	_, err = l.Get(ctx, "")
	require.ErrorIs(t, err, audit.ErrNotFound)
}

func testSubjects(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	type HTTPRequest struct{ ID uint16 }
	type noName struct {
		ID   int
		Name int // not a string: ignored
	}
	ref := audit.Ref{Type: "t", ID: "i", Name: "n"}
	for _, c := range []struct {
		subject any
		want    audit.Ref
	}{
		{nil, audit.Ref{}},
		{ref, ref},
		{&ref, ref},
		{named{"k"}, audit.Ref{Type: "custom", ID: "k", Name: "N"}},
		{&named{"k"}, audit.Ref{Type: "custom", ID: "k", Name: "N"}},
		{&pointerNamed{"p"}, audit.Ref{Type: "pointer", ID: "p"}},
		{funcNamed(func() audit.Ref { return ref }), ref},
		{embedsNilNamed{&named{"e"}}, audit.Ref{Type: "custom", ID: "e", Name: "N"}},
		{user{ID: -5, Name: "Neg"}, audit.Ref{Type: "user", ID: "-5", Name: "Neg"}},
		{&user{ID: math.MaxInt64}, audit.Ref{Type: "user", ID: "9223372036854775807"}},
		{BillingAccount{ID: "b"}, audit.Ref{Type: "billing_account", ID: "b"}},
		{HTTPRequest{ID: 65535}, audit.Ref{Type: "http_request", ID: "65535"}},
		{noName{ID: 1, Name: 2}, audit.Ref{Type: "no_name", ID: "1"}},
		{embedsNil{&Base{ID: "b1"}}, audit.Ref{Type: "embeds_nil", ID: "b1"}},
	} {
		e, err := l.Track(ctx, c.subject, "subject.tested", c.subject)
		require.NoError(t, err, "%#v", c.subject)
		require.Equal(t, c.want, e.Actor, "%#v", c.subject)
		require.Equal(t, c.want, e.Resource, "%#v", c.subject)
	}
	before := total(t, l)
	for _, bad := range []any{
		42, "user-1", []string{"a"}, map[string]any{"ID": "x"},
		struct{ Key string }{"k"}, struct{ ID float64 }{1.5}, struct{ id string }{"hidden"},
		func() {}, embedsNil{}, embedsNilNamed{},
	} {
		_, err := l.Track(ctx, bad, "subject.tested", nil)
		require.ErrorIs(t, err, audit.ErrUnsupportedSubject, "actor %#v", bad)
		require.ErrorIs(t, err, audit.ErrInvalidEvent, "actor %#v", bad)
		require.NotErrorIs(t, err, audit.ErrNilSubject, "actor %#v", bad)
		_, err = l.Track(ctx, nil, "subject.tested", bad)
		require.ErrorIs(t, err, audit.ErrUnsupportedSubject, "resource %#v", bad)
		_, err = l.Track(ctx, nil, "subject.tested", nil, audit.WithTargets(bad))
		require.ErrorIs(t, err, audit.ErrUnsupportedSubject, "target %#v", bad)
	}
	// A typed nil is not the system: (*User)(nil) is most often a user who
	// is not logged in. Only an untyped nil is the system.
	for _, bad := range []any{
		(*user)(nil), (*BillingAccount)(nil), (*audit.Ref)(nil), (*named)(nil), (*pointerNamed)(nil),
		funcNamed(nil), (*embedsNil)(nil),
	} {
		for _, c := range []struct {
			field           string
			actor, resource any
			opts            []audit.TrackOption
		}{
			{"actor: ", bad, nil, nil},
			{"resource: ", nil, bad, nil},
			{"targets[1]: ", nil, nil, []audit.TrackOption{audit.WithTargets(ref, bad)}},
		} {
			_, err := l.Track(ctx, c.actor, "subject.tested", c.resource, c.opts...)
			require.ErrorIs(t, err, audit.ErrNilSubject, "%s%T", c.field, bad)
			require.ErrorIs(t, err, audit.ErrInvalidEvent, "%s%T", c.field, bad)
			require.NotErrorIs(t, err, audit.ErrUnsupportedSubject, "%s%T", c.field, bad)
			require.Contains(t, err.Error(), c.field+fmt.Sprintf("%T", bad), "the error names the field and the type")
			require.Contains(t, err.Error(), "nil")
		}
	}
	require.Equal(t, before, total(t, l), "rejected events must write nothing")
}

func testInvalidEvents(t *testing.T, newStore NewStore) {
	l := setup(t, newStore, audit.WithMaxMetadataBytes(1024))
	ctx := t.Context()
	good, err := l.Track(ctx, nil, "kept.before", nil)
	require.NoError(t, err)
	bad := "\xff\xfe"
	cases := map[string]audit.Event{
		"empty action":           {Action: ""},
		"long action":            {Action: strings.Repeat("a", audit.MaxActionBytes+1)},
		"non-UTF-8 action":       {Action: "user." + bad},
		"newline in action":      {Action: "user\ncreated"},
		"NUL in action":          {Action: "user\x00created"},
		"DEL in action":          {Action: "user\x7f"},
		"C1 control in action":   {Action: "user\u0085"},
		"non-UTF-8 actor id":     {Action: "a", Actor: audit.Ref{ID: bad}},
		"non-UTF-8 actor type":   {Action: "a", Actor: audit.Ref{Type: bad}},
		"non-UTF-8 actor name":   {Action: "a", Actor: audit.Ref{Name: bad}},
		"non-UTF-8 resource":     {Action: "a", Resource: audit.Ref{ID: bad}},
		"non-UTF-8 target":       {Action: "a", Targets: []audit.Ref{{ID: bad}}},
		"non-UTF-8 tenant":       {Action: "a", Tenant: bad},
		"non-UTF-8 key":          {Action: "a", IdempotencyKey: bad},
		"non-UTF-8 metadata":     {Action: "a", Metadata: map[string]any{"k": bad}},
		"non-UTF-8 metadata key": {Action: "a", Metadata: map[string]any{bad: 1}},
		"non-UTF-8 nested":       {Action: "a", Metadata: map[string]any{"k": []any{map[string]string{"x": bad}}}},
		"NaN metadata":           {Action: "a", Metadata: map[string]any{"k": math.NaN()}},
		"channel metadata":       {Action: "a", Metadata: map[string]any{"k": make(chan int)}},
		"func metadata":          {Action: "a", Metadata: map[string]any{"k": func() {}}},
		"oversize metadata":      {Action: "a", Metadata: map[string]any{"k": strings.Repeat("x", 2048)}},
		"unknown outcome":        {Action: "a", Outcome: "maybe"},
		"long field":             {Action: "a", Actor: audit.Ref{ID: strings.Repeat("x", audit.MaxFieldBytes+1)}},
		"year 3000":              {Action: "a", OccurredAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for name, e := range cases {
		_, err := l.Record(ctx, e)
		require.ErrorIs(t, err, audit.ErrInvalidEvent, name)
	}
	// A scoped logger refuses events of another tenant.
	_, err = l.WithTenant("a").Record(ctx, audit.Event{Action: "a", Tenant: "b"})
	require.ErrorIs(t, err, audit.ErrInvalidEvent)

	// Nothing was written, and what was stored is untouched.
	require.Equal(t, 1, total(t, l))
	got, err := l.Get(ctx, good.ID)
	require.NoError(t, err)
	sameEvent(t, good, got)

	// Exactly at the limits is fine.
	max, err := l.Track(ctx, nil, strings.Repeat("é", audit.MaxActionBytes/2), nil)
	require.NoError(t, err)
	require.Len(t, max.Action, audit.MaxActionBytes)

	// One invalid event among concurrent valid ones fails alone.
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Go(func() {
			action := fmt.Sprintf("batch.%d", i)
			if i == 17 {
				action = "bad\x01"
			}
			_, errs[i] = l.Track(ctx, nil, action, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i == 17 {
			require.ErrorIs(t, err, audit.ErrInvalidEvent)
		} else {
			require.NoError(t, err, i)
		}
	}
	require.Equal(t, 2+39, total(t, l))
}

func testIdempotency(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	first, err := l.Track(ctx, user{ID: 1}, "invoice.paid", nil, audit.WithIdempotencyKey("pay-1"))
	require.NoError(t, err)
	again, err := l.Track(ctx, user{ID: 2}, "other.action", nil, audit.WithIdempotencyKey("pay-1"))
	require.NoError(t, err)
	sameEvent(t, first, again)
	require.Equal(t, 1, total(t, l))

	// Keys are per tenant.
	other, err := l.WithTenant("t2").Track(ctx, nil, "invoice.paid", nil, audit.WithIdempotencyKey("pay-1"))
	require.NoError(t, err)
	require.NotEqual(t, first.ID, other.ID)
	require.Equal(t, "t2", other.Tenant)

	// The counters and the catalogue count the event once.
	acts, err := l.Actions(ctx, "", 10)
	require.NoError(t, err)
	require.Equal(t, []audit.ActionCount{{Action: "invoice.paid", Count: 1}}, acts)
	p, err := l.Recent(ctx, audit.Query{ActorID: "2"})
	require.NoError(t, err)
	require.Zero(t, p.TotalCount)
}

func testIdempotencyRace(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	const n = 64
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var e audit.Event
			e, errs[i] = l.Track(ctx, user{ID: int64(i)}, "race.won", nil, audit.WithIdempotencyKey("same"))
			ids[i] = e.ID
		})
	}
	wg.Wait()
	for i, id := range ids {
		require.NoError(t, errs[i], i)
		require.Equal(t, ids[0], id)
	}
	require.Equal(t, 1, total(t, l))
}

func seed(t *testing.T, l *audit.Logger, n int) []audit.Event {
	t.Helper()
	out := make([]audit.Event, n)
	for i := range n {
		e, err := l.Track(t.Context(), user{ID: int64(i % 3)}, fmt.Sprintf("item.%s", []string{"created", "updated", "deleted"}[i%3]),
			BillingAccount{ID: fmt.Sprintf("acct_%d", i%4)})
		require.NoError(t, err)
		out[i] = e
	}
	return out
}

func seqs(es []audit.Event) []int64 {
	var out []int64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func newestFirst(es []audit.Event) []int64 {
	s := seqs(es)
	slices.Reverse(s)
	return s
}

func testPaging(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	written := seed(t, l, 23)

	var walked []audit.Event
	q := audit.Query{PerPage: 5}
	for want := 1; ; want++ {
		p, err := l.Recent(ctx, q)
		require.NoError(t, err)
		require.Equal(t, want, p.Page)
		require.Equal(t, 5, p.PerPage)
		require.Equal(t, 23, p.TotalCount)
		require.Equal(t, 5, p.TotalPages)
		walked = append(walked, p.Entries...)
		// Page N by number (offset) is the same page.
		byNumber, err := l.Recent(ctx, audit.Query{PerPage: 5, Page: want})
		require.NoError(t, err)
		require.Equal(t, seqs(p.Entries), seqs(byNumber.Entries))
		require.Equal(t, want, byNumber.Page)
		if p.Next == "" {
			require.Equal(t, 5, want)
			require.Len(t, p.Entries, 3)
			break
		}
		require.Regexp(t, urlSafe, p.Next)
		q.After = p.Next
	}
	require.Equal(t, newestFirst(written), seqs(walked))

	// An exact multiple of the page size has no empty last page.
	p, err := l.Recent(ctx, audit.Query{PerPage: 23})
	require.NoError(t, err)
	require.Empty(t, p.Next)
	require.Equal(t, 1, p.TotalPages)

	// Past the end, and the defaults and limits.
	p, err = l.Recent(ctx, audit.Query{Page: 9, PerPage: 5})
	require.NoError(t, err)
	require.Empty(t, p.Entries)
	require.Equal(t, 23, p.TotalCount)
	p, err = l.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, audit.DefaultPerPage, p.PerPage)
	require.Equal(t, 1, p.Page)
	p, err = l.Recent(ctx, audit.Query{PerPage: 5000})
	require.NoError(t, err)
	require.Equal(t, audit.MaxPerPage, p.PerPage)
	_, err = l.Recent(ctx, audit.Query{PerPage: -1})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
	_, err = l.Recent(ctx, audit.Query{Page: -1})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)

	// An empty log has one empty page.
	empty := setup(t, newStore)
	p, err = empty.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.NotNil(t, p.Entries)
	require.Empty(t, p.Entries)
	require.Zero(t, p.TotalCount)
	require.Zero(t, p.TotalPages)
	require.Empty(t, p.Next)
}

func testPagingWhileWriting(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	written := seed(t, l, 60)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error // checked on the test goroutine once the writer is done
	stopWriter := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriter() // also when a check below fails
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, writeErr = l.Track(ctx, user{ID: 1}, "item.created", BillingAccount{ID: "acct_1"}); writeErr != nil {
				return
			}
		}
	})
	var walked []audit.Event
	q := audit.Query{PerPage: 7}
	for {
		p, err := l.Recent(ctx, q)
		require.NoError(t, err)
		walked = append(walked, p.Entries...)
		if p.Next == "" {
			break
		}
		q.After = p.Next
		time.Sleep(time.Millisecond)
	}
	stopWriter()
	require.NoError(t, writeErr)
	// The walk starts at the head it saw first and then never shifts: every
	// event written before it is seen exactly once, in order.
	seen := make(map[int64]bool)
	for i, e := range walked {
		require.False(t, seen[e.Seq], "seq %d seen twice", e.Seq)
		seen[e.Seq] = true
		if i > 0 {
			require.Less(t, e.Seq, walked[i-1].Seq)
		}
	}
	for _, e := range written {
		require.True(t, seen[e.Seq], "seq %d never seen", e.Seq)
	}
}

func testCursors(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	seed(t, l, 12)
	for _, tn := range []string{"a", "b"} {
		seed(t, l.WithTenant(tn), 12)
	}
	p, err := l.Recent(ctx, audit.Query{PerPage: 2, Action: "item.created"})
	require.NoError(t, err)
	require.NotEmpty(t, p.Next)

	// Bound to the query...
	for _, q := range []audit.Query{
		{PerPage: 2, After: p.Next},
		{PerPage: 2, After: p.Next, Action: "item.updated"},
		{PerPage: 3, After: p.Next, Action: "item.created"},
		{PerPage: 2, After: p.Next, Action: "item.created", ActorID: "1"},
		{PerPage: 2, After: p.Next, Action: "item.created", Since: time.Unix(1, 0)},
		{PerPage: 2, After: p.Next, Action: "item.created", Search: "item"},
	} {
		_, err := l.Recent(ctx, q)
		require.ErrorIs(t, err, audit.ErrInvalidCursor, "%+v", q)
	}
	// ... and to the tenant.
	pa, err := l.WithTenant("a").Recent(ctx, audit.Query{PerPage: 2})
	require.NoError(t, err)
	_, err = l.WithTenant("b").Recent(ctx, audit.Query{PerPage: 2, After: pa.Next})
	require.ErrorIs(t, err, audit.ErrInvalidCursor)
	_, err = l.Recent(ctx, audit.Query{PerPage: 2, After: pa.Next})
	require.ErrorIs(t, err, audit.ErrInvalidCursor)
	_, err = l.Search(ctx, "item", audit.Query{PerPage: 2, After: pa.Next})
	require.ErrorIs(t, err, audit.ErrInvalidCursor)

	// Malformed cursors.
	for _, c := range []string{"x", "!!!", "AAAA", strings.Repeat("A", 40), "\xff", p.Next + "A", p.Next[:len(p.Next)-2], "null", "' OR 1=1 --"} {
		_, err := l.Recent(ctx, audit.Query{PerPage: 2, Action: "item.created", After: c})
		require.ErrorIs(t, err, audit.ErrInvalidCursor, "%q", c)
	}
	// The right cursor works, on every read that pages.
	p2, err := l.Recent(ctx, audit.Query{PerPage: 2, Action: "item.created", After: p.Next})
	require.NoError(t, err)
	require.Equal(t, 2, p2.Page)
	s, err := l.Search(ctx, "it", audit.Query{})
	require.NoError(t, err)
	s2, err := l.Search(ctx, "it", audit.Query{After: s.Next})
	require.NoError(t, err)
	require.Less(t, s2.Entries[0].Seq, s.Entries[len(s.Entries)-1].Seq)
	f, err := l.ForAccount(ctx, "acct_1", audit.Query{PerPage: 1})
	require.NoError(t, err)
	f2, err := l.ForAccount(ctx, "acct_1", audit.Query{PerPage: 1, After: f.Next})
	require.NoError(t, err)
	require.Equal(t, 2, f2.Page)
	_, err = l.ForAccount(ctx, "acct_2", audit.Query{PerPage: 1, After: f.Next})
	require.ErrorIs(t, err, audit.ErrInvalidCursor)
}

// testFilters checks every filter and its total against a brute-force
// reading of what was written.
func testFilters(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var written []audit.Event
	for i := range 90 {
		e, err := l.Track(ctx, user{ID: int64(i % 5)}, []string{"doc.created", "doc.shared", "user.login"}[i%3],
			audit.Ref{Type: []string{"doc", "folder"}[i%2], ID: fmt.Sprintf("r%d", i%7)},
			audit.At(base.Add(time.Duration(i)*time.Hour)))
		require.NoError(t, err)
		written = append(written, e)
	}
	match := func(q audit.Query) []int64 {
		var out []int64
		for _, e := range written {
			if (q.Action == "" || e.Action == q.Action) &&
				(q.ActorID == "" || e.Actor.ID == q.ActorID) &&
				(q.ResourceType == "" || e.Resource.Type == q.ResourceType) &&
				(q.ResourceID == "" || e.Resource.ID == q.ResourceID) &&
				(q.Since.IsZero() || !e.OccurredAt.Before(q.Since)) &&
				(q.Until.IsZero() || e.OccurredAt.Before(q.Until)) &&
				(q.Search == "" || strings.HasPrefix(e.Action, q.Search) || strings.Contains(e.Action, "."+q.Search)) {
				out = append(out, e.Seq)
			}
		}
		slices.Reverse(out)
		return out
	}
	since, until := base.Add(20*time.Hour), base.Add(50*time.Hour)
	for _, q := range []audit.Query{
		{},
		{Action: "doc.shared"},
		{Action: "nope"},
		{ActorID: "3"},
		{ResourceType: "folder"},
		{ResourceID: "r4"},
		{ResourceType: "doc", ResourceID: "r4"},
		{Since: since},
		{Until: until},
		{Since: since, Until: until},
		{Since: until, Until: until},
		{Action: "user.login", ActorID: "2"},
		{Action: "doc.created", ResourceID: "r1", Since: since},
		{Search: "doc"},
		{Search: "shared"},
		{Search: "doc", ActorID: "1"},
		{Search: "doc", Action: "doc.shared"},
		{Search: "doc", Action: "user.login"},
		{Search: "log", Since: since, Until: until},
	} {
		q.PerPage = 4
		want := match(q)
		got := all(t, l, q)
		require.Equal(t, want, seqs(got), "%+v", q)
		p, err := l.Recent(ctx, q)
		require.NoError(t, err)
		require.Equal(t, len(want), p.TotalCount, "%+v", q)
		require.Equal(t, (len(want)+3)/4, p.TotalPages, "%+v", q)
	}
	_, err := l.Recent(ctx, audit.Query{Since: until, Until: since})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
	_, err = l.Recent(ctx, audit.Query{Action: "\xff"})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
}

func testForAccount(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	written := seed(t, l, 20)
	p, err := l.ForAccount(ctx, "acct_2", audit.Query{})
	require.NoError(t, err)
	var want []int64
	for _, e := range written {
		if e.Resource.ID == "acct_2" {
			want = append(want, e.Seq)
		}
	}
	slices.Reverse(want)
	require.Equal(t, want, seqs(p.Entries))
	require.Equal(t, len(want), p.TotalCount)
	p, err = l.ForAccount(ctx, "acct_2", audit.Query{Action: "item.created"})
	require.NoError(t, err)
	for _, e := range p.Entries {
		require.Equal(t, "item.created", e.Action)
		require.Equal(t, "acct_2", e.Resource.ID)
	}
	p, err = l.ForAccount(ctx, "nobody", audit.Query{})
	require.NoError(t, err)
	require.Empty(t, p.Entries)
	_, err = l.ForAccount(ctx, "", audit.Query{})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
}

func testSearch(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	actions := []string{
		"billing.Invoice.paid", "billing.invoice.sent", "user.signed_in", "user.signed_out",
		"Project.deleted", "100%_off*.applied", "100x.applied", "a_b.c", "axb.c", "résumé.Écrit",
	}
	counts := map[string]int{}
	for i := range 3 * len(actions) {
		a := actions[(i*7)%len(actions)]
		_, err := l.Track(ctx, nil, a, nil)
		require.NoError(t, err)
		counts[a]++
	}
	for _, c := range []struct {
		term string
		want []string
	}{
		{"billing", []string{"billing.Invoice.paid", "billing.invoice.sent"}},
		{"INV", []string{"billing.Invoice.paid", "billing.invoice.sent"}},
		{"invoice.pa", []string{"billing.Invoice.paid"}},
		{"paid", []string{"billing.Invoice.paid"}},
		{"signed", []string{"user.signed_in", "user.signed_out"}},
		{"signed_o", []string{"user.signed_out"}},
		{"user.signed_in", []string{"user.signed_in"}},
		{"project", []string{"Project.deleted"}},
		{"DEL", []string{"Project.deleted"}},
		{"100%", []string{"100%_off*.applied"}},
		{"100%_off*", []string{"100%_off*.applied"}},
		{"100_", nil},
		{"%", nil},
		{"*", nil},
		{"a_b", []string{"a_b.c"}},
		{"a_", []string{"a_b.c"}},
		{"c", []string{"a_b.c", "axb.c"}},
		{"ÉCRIT", []string{"résumé.Écrit"}},
		{"RÉS", []string{"résumé.Écrit"}},
		{"voice", nil},
		{"ign", nil},
		{".paid", nil},
		{"zzz", nil},
	} {
		p, err := l.Search(ctx, c.term, audit.Query{PerPage: 100})
		require.NoError(t, err, c.term)
		var got []string
		wantTotal := 0
		for _, a := range c.want {
			wantTotal += counts[a]
		}
		for _, e := range p.Entries {
			if !slices.Contains(got, e.Action) {
				got = append(got, e.Action)
			}
			require.Contains(t, c.want, e.Action, c.term)
		}
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		require.Equal(t, want, got, c.term)
		require.Equal(t, wantTotal, p.TotalCount, c.term)
		require.Len(t, p.Entries, wantTotal, c.term)
		for i := 1; i < len(p.Entries); i++ {
			require.Less(t, p.Entries[i].Seq, p.Entries[i-1].Seq)
		}
	}
	// Default limit 5, newest first, with the total of all matches.
	p, err := l.Search(ctx, "user", audit.Query{})
	require.NoError(t, err)
	require.Len(t, p.Entries, audit.DefaultSearchLimit)
	require.Equal(t, counts["user.signed_in"]+counts["user.signed_out"], p.TotalCount)
	require.NotEmpty(t, p.Next)
	// Search as a Query field does the same.
	q, err := l.Recent(ctx, audit.Query{Search: "user", PerPage: audit.DefaultSearchLimit})
	require.NoError(t, err)
	require.Equal(t, seqs(p.Entries), seqs(q.Entries))
	// An empty term matches everything.
	p, err = l.Search(ctx, "", audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 3*len(actions), p.TotalCount)
	_, err = l.Search(ctx, "\xff", audit.Query{})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)

	// A term that matches many distinct actions pages the same way.
	var many []int64
	for i := range 150 {
		e, err := l.Track(ctx, nil, fmt.Sprintf("bulk.action%03d", i%75), nil)
		require.NoError(t, err)
		many = append(many, e.Seq)
	}
	slices.Reverse(many)
	require.Equal(t, many, seqs(all(t, l, audit.Query{Search: "BULK", PerPage: 40})))
	p, err = l.Search(ctx, "bulk.", audit.Query{PerPage: 40})
	require.NoError(t, err)
	require.Equal(t, 150, p.TotalCount)
	require.Equal(t, many[:40], seqs(p.Entries))
}

func testActions(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	for a, n := range map[string]int{"user.created": 5, "user.deleted": 2, "User.Renamed": 1, "billing.paid": 3, "admin.user.x": 4} {
		for range n {
			_, err := l.Track(ctx, nil, a, nil)
			require.NoError(t, err)
		}
	}
	got, err := l.Actions(ctx, "user", 10)
	require.NoError(t, err)
	require.Equal(t, []audit.ActionCount{{Action: "user.created", Count: 5}, {Action: "user.deleted", Count: 2}, {Action: "User.Renamed", Count: 1}}, got)
	got, err = l.Actions(ctx, "USER.", 2)
	require.NoError(t, err)
	require.Equal(t, []audit.ActionCount{{Action: "user.created", Count: 5}, {Action: "user.deleted", Count: 2}}, got)
	got, err = l.Actions(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, got, 5)
	require.Equal(t, audit.ActionCount{Action: "user.created", Count: 5}, got[0])
	got, err = l.Actions(ctx, "nothing", 10)
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = l.Actions(ctx, "%", 10)
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = l.Actions(ctx, "", -1)
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
}

func testTenants(t *testing.T, newStore NewStore) {
	root := setup(t, newStore)
	ctx := t.Context()
	a, b := root.WithTenant("acme"), root.WithTenant("globex")
	require.Equal(t, "acme", a.Tenant())
	ea, err := a.Track(ctx, user{ID: 1}, "doc.shared", BillingAccount{ID: "acct_1"}, audit.WithIdempotencyKey("k"))
	require.NoError(t, err)
	require.Equal(t, "acme", ea.Tenant)
	eb, err := b.Track(ctx, user{ID: 1}, "doc.deleted", BillingAccount{ID: "acct_1"}, audit.WithIdempotencyKey("k"))
	require.NoError(t, err)
	require.Equal(t, "globex", eb.Tenant)
	er, err := root.Track(ctx, user{ID: 1}, "doc.viewed", BillingAccount{ID: "acct_1"})
	require.NoError(t, err)
	require.Empty(t, er.Tenant)
	// The default-tenant logger may record into any tenant by Event.Tenant.
	ex, err := root.Record(ctx, audit.Event{Tenant: "acme", Action: "doc.exported", Actor: audit.Ref{ID: "1"}})
	require.NoError(t, err)
	require.Equal(t, "acme", ex.Tenant)

	for _, c := range []struct {
		l    *audit.Logger
		mine []audit.Event
	}{{a, []audit.Event{ea, ex}}, {b, []audit.Event{eb}}, {root, []audit.Event{er}}} {
		var ids []string
		for _, e := range c.mine {
			ids = append(ids, e.ID)
		}
		for _, e := range []audit.Event{ea, eb, er, ex} {
			got, err := c.l.Get(ctx, e.ID)
			if slices.Contains(ids, e.ID) {
				require.NoError(t, err)
				sameEvent(t, e, got)
			} else {
				require.ErrorIs(t, err, audit.ErrNotFound)
			}
		}
		for _, q := range []audit.Query{{}, {ActorID: "1"}, {ResourceID: "acct_1"}, {Search: "doc"}, {Action: "doc.shared"}, {ResourceType: "billing_account"}} {
			p, err := c.l.Recent(ctx, q)
			require.NoError(t, err)
			for _, e := range p.Entries {
				require.Contains(t, ids, e.ID, "%+v", q)
			}
			require.LessOrEqual(t, p.TotalCount, len(ids))
		}
		p, err := c.l.Recent(ctx, audit.Query{})
		require.NoError(t, err)
		require.Equal(t, len(ids), p.TotalCount)
		f, err := c.l.ForAccount(ctx, "acct_1", audit.Query{})
		require.NoError(t, err)
		for _, e := range f.Entries {
			require.Contains(t, ids, e.ID)
		}
		s, err := c.l.Search(ctx, "doc", audit.Query{})
		require.NoError(t, err)
		require.Equal(t, len(ids), s.TotalCount)
		acts, err := c.l.Actions(ctx, "doc", 10)
		require.NoError(t, err)
		require.Len(t, acts, len(ids))
		for _, x := range acts {
			found := false
			for _, e := range c.mine {
				found = found || e.Action == x.Action
			}
			require.True(t, found, x.Action)
		}
	}
	// A tenant named like another's data, or empty, sees nothing else.
	for _, tn := range []string{"acme ", "ACME", "acme\x00", "%", "' OR 1=1 --"} {
		p, err := root.WithTenant(tn).Recent(ctx, audit.Query{})
		require.NoError(t, err)
		require.Empty(t, p.Entries, tn)
	}
}

func testRedaction(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	type login struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	e, err := l.Track(ctx, nil, "user.login", nil, audit.WithMetadata(map[string]any{
		"password":      "hunter2",
		"Authorization": "Bearer abc",
		"headers":       map[string]any{"Cookie": "sid=1", "X-Api-Key": "k", "accept": "json"},
		"list":          []any{map[string]any{"client_secret": "s", "ok": 1}},
		"form":          login{User: "bob", Password: "pw"},
		"refresh_token": "r",
		"PRIVATE_KEY":   "-----BEGIN",
		"author":        "kept",
	}))
	require.NoError(t, err)
	want := map[string]any{
		"password":      audit.Redacted,
		"Authorization": audit.Redacted,
		"headers":       map[string]any{"Cookie": audit.Redacted, "X-Api-Key": audit.Redacted, "accept": "json"},
		"list":          []any{map[string]any{"client_secret": audit.Redacted, "ok": json.Number("1")}},
		"form":          map[string]any{"user": "bob", "password": audit.Redacted},
		"refresh_token": audit.Redacted,
		"PRIVATE_KEY":   audit.Redacted,
		"author":        "kept",
	}
	require.Equal(t, want, e.Metadata)
	got, err := l.Get(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, want, got.Metadata)

	custom := setup(t, newStore, audit.WithRedactKeys("ssn"))
	e, err = custom.Track(ctx, nil, "user.login", nil, audit.WithMetadata(map[string]any{"SSN": "1", "password": "p"}))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"SSN": audit.Redacted, "password": "p"}, e.Metadata)
	off := setup(t, newStore, audit.WithRedactKeys())
	e, err = off.Track(ctx, nil, "user.login", nil, audit.WithMeta("password", "p"))
	require.NoError(t, err)
	require.Equal(t, "p", e.Metadata["password"])
}

// LoadNaughtyStrings returns the strings of the NaughtyStrings case: the
// suite's own HardStrings, then, when it is found, every valid UTF-8
// string of the Big List of Naughty Strings, read from the file named by
// $AUDIT_BLNS or else from shared/testdata/blns.json in the working
// directory or one of its parents. The list is optional: without it the
// suite runs on its own strings, on any machine and any CI. A file named
// by AUDIT_BLNS that cannot be read fails the test.
func LoadNaughtyStrings(t testing.TB) []string {
	t.Helper()
	out := HardStrings()
	path := os.Getenv("AUDIT_BLNS")
	if path == "" {
		path = findBLNS()
	}
	if path == "" {
		t.Logf("shared/testdata/blns.json not found in the working directory or its parents (nor AUDIT_BLNS set): using the suite's %d hard strings only", len(out))
		return out
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var all []string
	require.NoError(t, json.Unmarshal(raw, &all))
	n := 0
	for _, s := range all {
		if utf8.ValidString(s) {
			out = append(out, s)
			n++
		}
	}
	require.Greater(t, n, 400, "%s is not the Big List of Naughty Strings", path)
	return out
}

// findBLNS looks for shared/testdata/blns.json in the working directory
// and its parents, and returns its path or "".
func findBLNS() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "shared", "testdata", "blns.json")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func testNaughtyStrings(t *testing.T, newStore NewStore) {
	// Redaction off: some of the strings, used as metadata keys, name
	// secrets ("/etc/passwd").
	l := setup(t, newStore, audit.WithRedactKeys())
	ctx := t.Context()
	strs := append(LoadNaughtyStrings(t), "")
	rejected := 0
	done := map[string]bool{}
	for _, s := range strs {
		if done[s] {
			continue // the list repeats a few
		}
		done[s] = true
		ref := audit.Ref{Type: s, ID: s, Name: s}
		tl := l.WithTenant(s)
		e, err := tl.Record(ctx, audit.Event{
			Action:         "naughty.string",
			Actor:          ref,
			Resource:       ref,
			Targets:        []audit.Ref{ref},
			Metadata:       map[string]any{"value": s, "k" + s: []any{s}},
			IdempotencyKey: s, // unique: each string is written once, in its own tenant
		})
		require.NoError(t, err, "%q", s)
		got, err := tl.Get(ctx, e.ID)
		require.NoError(t, err, "%q", s)
		sameEvent(t, e, got)
		require.Equal(t, s, got.Tenant)
		require.Equal(t, ref, got.Actor)
		require.Equal(t, []audit.Ref{ref}, got.Targets)
		require.Equal(t, s, got.Metadata["value"])
		require.Equal(t, []any{s}, got.Metadata["k"+s])

		// As an action, where it is a valid one.
		if err := audit.ValidateAction(s); err != nil {
			_, err := tl.Track(ctx, nil, s, nil)
			require.ErrorIs(t, err, audit.ErrInvalidEvent, "%q", s)
			rejected++
		} else {
			a, err := tl.Track(ctx, ref, s, ref)
			require.NoError(t, err, "%q", s)
			got, err := tl.Get(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, s, got.Action)
			p, err := tl.Recent(ctx, audit.Query{Action: s})
			require.NoError(t, err)
			require.Equal(t, 1, p.TotalCount, "%q", s)
			p, err = tl.Search(ctx, s, audit.Query{})
			require.NoError(t, err)
			require.GreaterOrEqual(t, p.TotalCount, 1, "%q", s)
			acts, err := tl.Actions(ctx, s, 1000)
			require.NoError(t, err)
			require.Contains(t, acts, audit.ActionCount{Action: s, Count: 1}, "%q", s)
		}
		// As every filter.
		if s != "" {
			q := audit.Query{ActorID: s, ResourceType: s, ResourceID: s}
			p, err := tl.Recent(ctx, q)
			require.NoError(t, err, "%q", s)
			require.Contains(t, seqs(p.Entries), e.Seq, "%q", s)
			f, err := tl.ForAccount(ctx, s, audit.Query{})
			require.NoError(t, err)
			require.Contains(t, seqs(f.Entries), e.Seq, "%q", s)
		}
	}
	require.Greater(t, rejected, 0, "some naughty strings are not valid actions")
	require.Less(t, rejected, len(strs)/2)
}

func testConcurrent(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	const writers, each = 16, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]int64{}
	stop := make(chan struct{})
	// Goroutines record their first error; the test goroutine checks them.
	readErrs := make([]error, 4)
	for r := range readErrs {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				p, err := l.Recent(ctx, audit.Query{PerPage: 10, ActorID: fmt.Sprint(r)})
				if err == nil && len(p.Entries) > p.TotalCount {
					err = fmt.Errorf("%d entries but a total of %d", len(p.Entries), p.TotalCount)
				}
				if err == nil {
					_, err = l.Search(ctx, "con", audit.Query{})
				}
				if err != nil {
					readErrs[r] = err
					return
				}
			}
		})
	}
	stopReaders := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopReaders() // also when a check below fails
	var writing sync.WaitGroup
	writeErrs := make([]error, writers)
	for w := range writers {
		writing.Go(func() {
			for i := range each {
				e, err := l.Track(ctx, user{ID: int64(w % 4)}, "concurrent.write", BillingAccount{ID: fmt.Sprint(i % 3)})
				if err != nil {
					writeErrs[w] = err
					return
				}
				mu.Lock()
				ids[e.ID] = e.Seq
				mu.Unlock()
			}
		})
	}
	writing.Wait()
	stopReaders()
	for w, err := range writeErrs {
		require.NoError(t, err, "writer %d", w)
	}
	for r, err := range readErrs {
		require.NoError(t, err, "reader %d", r)
	}
	require.Len(t, ids, writers*each)
	var got []int64
	for _, s := range ids {
		got = append(got, s)
	}
	slices.Sort(got)
	for i, s := range got {
		require.Equal(t, int64(i+1), s, "seq is gapless")
	}
	events := all(t, l, audit.Query{PerPage: 100})
	require.Len(t, events, writers*each)
	for _, e := range events {
		require.Equal(t, ids[e.ID], e.Seq)
	}
	p, err := l.Recent(ctx, audit.Query{ActorID: "1"})
	require.NoError(t, err)
	require.Equal(t, writers/4*each, p.TotalCount)
}

func testClosed(t *testing.T, newStore NewStore) {
	l, err := audit.New(newStore(t))
	require.NoError(t, err)
	ctx := t.Context()
	e, err := l.Track(ctx, nil, "before.close", nil)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")
	_, err = l.Track(ctx, nil, "after.close", nil)
	require.ErrorIs(t, err, audit.ErrClosed)
	_, err = l.WithTenant("x").Record(ctx, audit.Event{Action: "after.close"})
	require.ErrorIs(t, err, audit.ErrClosed)
	_, err = l.Recent(ctx, audit.Query{})
	require.ErrorIs(t, err, audit.ErrClosed)
	_, err = l.Get(ctx, e.ID)
	require.ErrorIs(t, err, audit.ErrClosed)
	_, err = l.Actions(ctx, "", 0)
	require.ErrorIs(t, err, audit.ErrClosed)
	_, err = l.Search(ctx, "b", audit.Query{})
	require.ErrorIs(t, err, audit.ErrClosed)
}
