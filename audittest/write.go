package audittest

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/trailkit/audit"
)

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
