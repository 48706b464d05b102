package audit_test

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

type errUser struct {
	ID   int64
	Name string
}

type errNoID struct{ Key string }

type errFloatID struct{ ID float64 }

type errBase struct{ ID string }

type errEmbedsNil struct{ *errBase }

// TestInvalidEventErrorsSayAuditOnce sends bad input of every kind through
// the public API: each error reads "audit: invalid event: <field>: <what>"
// with "audit:" once, and matches the sentinels its documentation names.
func TestInvalidEventErrorsSayAuditOnce(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	ctx := t.Context()
	bad := "\xff\xfe"
	subject := []error{audit.ErrInvalidEvent, audit.ErrUnsupportedSubject}
	nilSubject := []error{audit.ErrInvalidEvent, audit.ErrNilSubject}
	invalid := []error{audit.ErrInvalidEvent}

	track := func(actor any, action string, resource any, opts ...audit.TrackOption) func(context.Context) error {
		return func(ctx context.Context) error { _, err := l.Track(ctx, actor, action, resource, opts...); return err }
	}
	record := func(e audit.Event) func(context.Context) error {
		return func(ctx context.Context) error { _, err := l.Record(ctx, e); return err }
	}
	type tcase struct {
		name  string
		call  func(context.Context) error
		is    []error
		field string // what the message starts with after "audit: invalid event: "
	}
	cases := []tcase{
		{"empty action", track(nil, "", nil), invalid, "empty action"},
		{"long action", track(nil, strings.Repeat("a", audit.MaxActionBytes+1), nil), invalid, "action"},
		{"non-UTF-8 action", track(nil, "a."+bad, nil), invalid, "action"},
		{"control in action", track(nil, "a\x00b", nil), invalid, "action"},
		{"ValidateAction", func(context.Context) error { return audit.ValidateAction("a\nb") }, invalid, "action"},
		{"unknown outcome", track(nil, "a.b", nil, audit.WithOutcome("maybe")), invalid, "outcome"},
		{"actor.id not UTF-8", record(audit.Event{Action: "a", Actor: audit.Ref{ID: bad}}), invalid, "actor.id"},
		{"resource.name too long", record(audit.Event{Action: "a", Resource: audit.Ref{Name: strings.Repeat("n", audit.MaxFieldBytes+1)}}), invalid, "resource.name"},
		{"target type not UTF-8", record(audit.Event{Action: "a", Targets: []audit.Ref{{}, {Type: bad}}}), invalid, "targets[1].type"},
		{"too many targets", record(audit.Event{Action: "a", Targets: make([]audit.Ref, audit.MaxTargets+1)}), invalid, "1001 targets"},
		{"tenant not UTF-8", record(audit.Event{Action: "a", Tenant: bad}), invalid, "tenant"},
		{"idempotency key too long", record(audit.Event{Action: "a", IdempotencyKey: strings.Repeat("k", audit.MaxFieldBytes+1)}), invalid, "idempotency key"},
		{"year 3000", record(audit.Event{Action: "a", OccurredAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}), invalid, "occurred_at"},
		{"NaN metadata", track(nil, "a.b", nil, audit.WithMeta("n", math.NaN())), invalid, "metadata"},
		{"channel metadata", track(nil, "a.b", nil, audit.WithMeta("c", make(chan int))), invalid, "metadata"},
		{"non-UTF-8 metadata", track(nil, "a.b", nil, audit.WithMeta("s", bad)), invalid, "metadata"},
		{"oversize metadata", track(nil, "a.b", nil, audit.WithMeta("s", strings.Repeat("x", 65<<10))), invalid, "metadata"},
	}
	for _, s := range []struct {
		name string
		v    any
		is   []error
	}{
		{"int", 42, subject},
		{"string", "user-1", subject},
		{"slice", []string{"a"}, subject},
		{"map", map[string]any{"ID": "x"}, subject},
		{"no ID", errNoID{"k"}, subject},
		{"float ID", errFloatID{1.5}, subject},
		{"func", func() {}, subject},
		{"ID through a nil embedded pointer", errEmbedsNil{}, subject},
		{"nil *struct", (*errUser)(nil), nilSubject},
		{"nil *Ref", (*audit.Ref)(nil), nilSubject},
		{"nil pointer to a struct embedding a pointer", (*errEmbedsNil)(nil), nilSubject},
	} {
		cases = append(cases,
			tcase{"actor " + s.name, track(s.v, "a.b", nil), s.is, "actor: "},
			tcase{"resource " + s.name, track(nil, "a.b", s.v), s.is, "resource: "},
			tcase{"target " + s.name, track(nil, "a.b", nil, audit.WithTargets(audit.Ref{ID: "1"}, s.v)), s.is, "targets[1]: "},
		)
	}

	before, err := l.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	for _, c := range cases {
		err := c.call(ctx)
		require.Error(t, err, c.name)
		msg := err.Error()
		require.Equal(t, 1, strings.Count(msg, "audit:"), "%s: %s", c.name, msg)
		require.True(t, strings.HasPrefix(msg, "audit: invalid event: "+c.field), "%s: %s", c.name, msg)
		for _, sentinel := range c.is {
			require.ErrorIs(t, err, sentinel, c.name)
		}
		for _, other := range []error{audit.ErrUnsupportedSubject, audit.ErrNilSubject, audit.ErrNotFound, audit.ErrClosed} {
			if !containsErr(c.is, other) {
				require.NotErrorIs(t, err, other, c.name)
			}
		}
	}
	after, err := l.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, before.TotalCount, after.TotalCount, "nothing written")
}

func containsErr(errs []error, target error) bool {
	for _, e := range errs {
		if e == target {
			return true
		}
	}
	return false
}

func listenErr(_ *audit.Listener, err error) error { return err }

// TestErrorsSayAuditOnce: the errors of every other kind (closed logger,
// not found, bad queries and cursors, views out of scope, checkpoints,
// backups, the bus) name the package once, and match their sentinel.
func TestErrorsSayAuditOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, path := setup(t)
	e, err := l.Track(ctx, nil, "a.b", nil)
	require.NoError(t, err)
	p, err := l.Recent(ctx, audit.Query{PerPage: 1})
	require.NoError(t, err)
	_ = p
	_, err = l.Track(ctx, nil, "a.c", nil)
	require.NoError(t, err)
	first, err := l.Recent(ctx, audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.NotEmpty(t, first.Next)
	acme := l.WithTenant("acme")
	denied := acme.WithTenant("beta")
	var bad audit.Checkpoint
	type tcase struct {
		name string
		err  error
		is   error
	}
	get := func(l *audit.Logger, id string) error { _, err := l.Get(ctx, id); return err }
	recent := func(l *audit.Logger, q audit.Query) error { _, err := l.Recent(ctx, q); return err }
	cases := []tcase{
		{"not found", get(l, "nope"), audit.ErrNotFound},
		{"not found in another tenant", get(acme, e.ID), audit.ErrNotFound},
		{"negative page", recent(l, audit.Query{Page: -1}), audit.ErrInvalidQuery},
		{"until before since", recent(l, audit.Query{Since: time.Now(), Until: time.Now().Add(-time.Hour)}), audit.ErrInvalidQuery},
		{"malformed cursor", recent(l, audit.Query{After: "!!"}), audit.ErrInvalidCursor},
		{"cursor of another query", recent(l, audit.Query{After: first.Next, Action: "a.b"}), audit.ErrInvalidCursor},
		{"cursor of another view", recent(acme, audit.Query{PerPage: 1, After: first.Next}), audit.ErrInvalidCursor},
		{"denied view", recent(denied, audit.Query{}), audit.ErrOutOfScope},
		{"view closes", acme.Close(), audit.ErrOutOfScope},
		{"view backs up", acme.Backup(ctx, path+".copy"), audit.ErrOutOfScope},
		{"backup over a file", l.Backup(ctx, path), os.ErrExist},
		{"checkpoint text", bad.UnmarshalText([]byte("nonsense")), audit.ErrInvalidCheckpoint},
		{"bus publish", audit.NewBus().Publish(ctx, "", audit.Event{Action: "a.b"}), nil},
		{"listen on every topic of a bus that cannot", listenErr(l.Listen(ctx, &listenTopicsSub{})), audit.ErrAllTopicsUnsupported},
		{"listen on an empty topic", listenErr(l.Listen(ctx, audit.NewBus(), "")), nil},
	}
	require.NoError(t, l.Close())
	_, err = l.Track(ctx, nil, "a.b", nil)
	cases = append(cases,
		tcase{"track after close", err, audit.ErrClosed},
		tcase{"get after close", get(l, e.ID), audit.ErrClosed},
		tcase{"recent after close", recent(l, audit.Query{}), audit.ErrClosed},
		tcase{"backup after close", l.Backup(ctx, path+".late"), audit.ErrClosed},
	)
	_, err = l.Actions(ctx, "", 5)
	cases = append(cases, tcase{"actions after close", err, audit.ErrClosed})
	_, err = l.Verify(ctx)
	cases = append(cases, tcase{"verify after close", err, audit.ErrClosed})
	_, err = l.Checkpoint(ctx)
	cases = append(cases, tcase{"checkpoint after close", err, audit.ErrClosed})
	_, err = l.Listen(ctx, audit.NewBus())
	cases = append(cases, tcase{"listen after close", err, audit.ErrClosed})
	for _, c := range cases {
		require.Error(t, c.err, c.name)
		msg := c.err.Error()
		require.Equal(t, 1, strings.Count(msg, "audit:"), "%s: %s", c.name, msg)
		require.True(t, strings.HasPrefix(msg, "audit: "), "%s: %s", c.name, msg)
		if c.is != nil {
			require.ErrorIs(t, c.err, c.is, c.name)
		}
	}
}
