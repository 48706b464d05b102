package audittest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// hardTenants are tenant names that look alike, look like SQL or LIKE
// patterns, or are hard to compare: every view must keep them apart.
var hardTenants = []string{
	"", "acme", "ACME", "acme ", " acme", "acme\x00", "acme\u200b", "ａｃｍｅ", "%", "_", "*",
	"' OR 1=1 --", `"`, `\`, "null", "🏳️\u200d🌈", "\u202e", strings.Repeat("t", audit.MaxFieldBytes),
}

// testViewsAreCapabilities checks that a view of one tenant never widens:
// WithTenant to another tenant and AllTenants give a view whose every call
// fails with ErrOutOfScope and reads or writes nothing; the view's Store
// refuses everything and its Close closes nothing; WithTenant to its own
// tenant is the same view.
func testViewsAreCapabilities(t *testing.T, newStore NewStore) {
	root := setup(t, newStore)
	ctx := t.Context()
	mine := map[string]audit.Event{} // each tenant's one event
	for _, tn := range hardTenants {
		e, err := root.WithTenant(tn).Track(ctx, user{ID: 1}, "doc.shared", BillingAccount{ID: "acct_1"})
		require.NoError(t, err, "%q", tn)
		require.Equal(t, tn, e.Tenant)
		mine[tn] = e
	}
	for _, tn := range hardTenants {
		v := root.WithTenant(tn)
		require.Equal(t, tn, v.Tenant())
		// Its own tenant again: the same view.
		same := v.WithTenant(tn)
		require.Equal(t, tn, same.Tenant())
		p, err := same.Recent(ctx, audit.Query{})
		require.NoError(t, err, "%q", tn)
		require.Equal(t, []int64{mine[tn].Seq}, seqs(p.Entries), "%q", tn)
		e, err := same.Track(ctx, nil, "doc.viewed", nil)
		require.NoError(t, err)
		require.Equal(t, tn, e.Tenant)
		mine[tn] = e
		_, err = same.Record(ctx, audit.Event{Tenant: tn + "x", Action: "doc.viewed"})
		require.ErrorIs(t, err, audit.ErrInvalidEvent, "%q", tn)

		for _, other := range hardTenants {
			if other != tn {
				requireDenied(t, v.WithTenant(other), root, mine[other])
			}
		}
		// Denied stays denied, even when asked for the view's own tenant.
		requireDenied(t, v.WithTenant(tn+"x").WithTenant(tn), root, mine[tn])

		// The view's Store reads nothing, writes nothing, closes nothing.
		requireStoreDenied(t, v.Store(), mine[tn])
		// Nor does its Close: the log stays open.
		err = v.Close()
		require.ErrorIs(t, err, audit.ErrOutOfScope)
		require.Equal(t, 1, strings.Count(err.Error(), "audit:"), err.Error())
		_, err = v.Track(ctx, nil, "still.open", nil)
		require.NoError(t, err)
		_, err = root.Track(ctx, nil, "still.open", nil)
		require.NoError(t, err)
	}
	// The default tenant's view records into no other tenant, unlike the
	// root logger.
	_, err := root.WithTenant("").Record(ctx, audit.Event{Tenant: "acme", Action: "doc.viewed"})
	require.ErrorIs(t, err, audit.ErrInvalidEvent)
	e, err := root.Record(ctx, audit.Event{Tenant: "acme", Action: "doc.viewed"})
	require.NoError(t, err)
	require.Equal(t, "acme", e.Tenant)

	// A listener on a view records into the view's tenant.
	acme := root.WithTenant("acme")
	bus := audit.NewBus()
	li, err := acme.Listen(ctx, bus)
	require.NoError(t, err)
	require.NoError(t, bus.Publish(ctx, "things", audit.Event{Action: "bus.delivered"}))
	require.NoError(t, li.Close())
	p, err := acme.Recent(ctx, audit.Query{Action: "bus.delivered"})
	require.NoError(t, err)
	require.Len(t, p.Entries, 1)
	require.Equal(t, "acme", p.Entries[0].Tenant)

	// Seq, Checkpoint and Verify are global, through any view.
	cp, err := acme.Checkpoint(ctx)
	require.NoError(t, err)
	rootCP, err := root.Checkpoint(ctx)
	require.NoError(t, err)
	require.Equal(t, rootCP.Seq, cp.Seq)
	rep, err := acme.Verify(ctx, cp)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	require.Equal(t, cp.Seq, rep.Checked)
}

// requireDenied checks that every call on l fails with ErrOutOfScope and
// that other (an event of a tenant l must not see) is neither read nor
// joined by anything.
func requireDenied(t *testing.T, l, root *audit.Logger, other audit.Event) {
	t.Helper()
	ctx := t.Context()
	before, err := root.WithTenant(other.Tenant).Recent(ctx, audit.Query{PerPage: 1})
	require.NoError(t, err)
	denied := func(what string, err error) {
		t.Helper()
		require.ErrorIs(t, err, audit.ErrOutOfScope, "%s, other tenant %q", what, other.Tenant)
		require.Equal(t, 1, strings.Count(err.Error(), "audit:"), err.Error())
	}
	_, err = l.Track(ctx, nil, "doc.stolen", nil)
	denied("Track", err)
	_, err = l.Track(ctx, 42, "doc.stolen", nil) // even with an invalid actor
	denied("Track", err)
	_, err = l.Record(ctx, audit.Event{Tenant: other.Tenant, Action: "doc.stolen"})
	denied("Record", err)
	_, err = l.RecordTx(ctx, nil, audit.Event{Tenant: other.Tenant, Action: "doc.stolen"})
	denied("RecordTx", err)
	_, err = l.TrackTx(ctx, nil, nil, "doc.stolen", nil)
	denied("TrackTx", err)
	_, err = l.Get(ctx, other.ID)
	denied("Get", err)
	for _, q := range []audit.Query{{}, {Action: other.Action}, {ActorID: other.Actor.ID}, {Search: "doc"}, {PerPage: -1}} {
		_, err = l.Recent(ctx, q)
		denied("Recent", err)
	}
	_, err = l.ForAccount(ctx, other.Resource.ID, audit.Query{})
	denied("ForAccount", err)
	_, err = l.ForAccount(ctx, "", audit.Query{})
	denied("ForAccount", err)
	_, err = l.Search(ctx, "doc", audit.Query{})
	denied("Search", err)
	_, err = l.Actions(ctx, "", 0)
	denied("Actions", err)
	_, err = l.Listen(ctx, audit.NewBus())
	denied("Listen", err)
	_, err = l.Verify(ctx)
	denied("Verify", err)
	_, err = l.Checkpoint(ctx)
	denied("Checkpoint", err)
	denied("Close", l.Close())
	_, err = l.WithTenant(other.Tenant).Recent(ctx, audit.Query{})
	denied("Recent on a view made from it", err)
	requireStoreDenied(t, l.Store(), other)

	after, err := root.WithTenant(other.Tenant).Recent(ctx, audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.Equal(t, before.TotalCount, after.TotalCount, "nothing was written into %q", other.Tenant)
}

// requireStoreDenied checks that every method of s fails with
// ErrOutOfScope: it reads nothing of other, writes nothing, closes nothing.
func requireStoreDenied(t *testing.T, s audit.Store, other audit.Event) {
	t.Helper()
	ctx := t.Context()
	_, ok := s.(audit.TxStore)
	require.False(t, ok, "a view's store writes in no transaction")
	_, err := s.Get(ctx, other.Tenant, other.ID)
	require.ErrorIs(t, err, audit.ErrOutOfScope)
	events, _, err := s.List(ctx, audit.Filter{Tenant: other.Tenant}, 0, 0, 10)
	require.ErrorIs(t, err, audit.ErrOutOfScope)
	require.Empty(t, events)
	_, _, err = s.Head(ctx)
	require.ErrorIs(t, err, audit.ErrOutOfScope)
	chain, err := s.ReadChain(ctx, 1, 1<<20)
	require.ErrorIs(t, err, audit.ErrOutOfScope)
	require.Empty(t, chain)
	_, err = s.Actions(ctx, other.Tenant, "", 10)
	require.ErrorIs(t, err, audit.ErrOutOfScope)
	_, err = s.Append(ctx, []audit.Event{{Tenant: other.Tenant, Action: "doc.stolen", ID: "x"}})
	require.ErrorIs(t, err, audit.ErrOutOfScope)
	require.ErrorIs(t, s.Close(), audit.ErrOutOfScope)
}
