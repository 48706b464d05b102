package audittest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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
		requireDenied(t, v.AllTenants(), root, mine[hardTenants[(len(tn)+1)%len(hardTenants)]])
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
	for _, w := range []*audit.Logger{l.WithTenant(other.Tenant), l.AllTenants()} {
		_, err = w.Recent(ctx, audit.Query{})
		denied("Recent on a view made from it", err)
	}
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
	_, err := s.Get(ctx, audit.Filter{AllTenants: true}, other.ID)
	require.ErrorIs(t, err, audit.ErrOutOfScope)
	events, _, err := s.List(ctx, audit.Filter{Tenant: other.Tenant}, 0, 0, 10)
	require.ErrorIs(t, err, audit.ErrOutOfScope)
	require.Empty(t, events)
	_, _, err = s.Head(ctx)
	require.ErrorIs(t, err, audit.ErrOutOfScope)
	rows := 0
	err = s.ReadChain(ctx, 1, 1<<20, func(audit.ChainEntry) error { rows++; return nil })
	require.ErrorIs(t, err, audit.ErrOutOfScope)
	require.Zero(t, rows)
	_, err = s.Actions(ctx, audit.Filter{AllTenants: true}, "", 10)
	require.ErrorIs(t, err, audit.ErrOutOfScope)
	_, err = s.Append(ctx, []audit.Event{{Tenant: other.Tenant, Action: "doc.stolen", ID: "x"}})
	require.ErrorIs(t, err, audit.ErrOutOfScope)
	require.ErrorIs(t, s.Close(), audit.ErrOutOfScope)
}

// allTenantsLog is a log of many tenants, for the AllTenants view, with
// everything written kept for brute-force answers.
type allTenantsLog struct {
	root    *audit.Logger
	written []audit.Event
	base    time.Time
}

// manyTenants returns the tenants of an allTenantsLog: the hard names and
// enough others that a key held by every tenant spans more index ranges
// than one page merges one by one.
func manyTenants() []string {
	out := slices.Clone(hardTenants)
	for i := len(out); i < 80; i++ {
		out = append(out, fmt.Sprintf("tenant-%02d", i))
	}
	return out
}

// seedTenants writes, into every tenant, events with common keys, then
// one rare event in each, a few events of the first tenants only, and many
// of one tenant: keys held by one, a few, or every tenant, dense or sparse
// in the log, so that every way to a page across tenants is taken.
func seedTenants(t *testing.T, newStore NewStore) *allTenantsLog {
	t.Helper()
	l := &allTenantsLog{root: setup(t, newStore), base: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	ctx := t.Context()
	tenants := manyTenants()
	i := 0
	record := func(e audit.Event) {
		t.Helper()
		e.OccurredAt = l.base.Add(time.Duration(i) * time.Minute)
		i++
		got, err := l.root.Record(ctx, e)
		require.NoError(t, err)
		l.written = append(l.written, got)
	}
	for round := range 12 {
		for j, tn := range tenants {
			record(audit.Event{
				Tenant:   tn,
				Action:   []string{"doc.created", "doc.shared", "user.login"}[(round+j)%3],
				Actor:    audit.Ref{Type: "user", ID: fmt.Sprint((round + j) % 5)},
				Resource: audit.Ref{Type: []string{"doc", "folder"}[round%2], ID: fmt.Sprintf("acct_%d", (round*j)%7)},
			})
		}
	}
	for j, tn := range tenants {
		record(audit.Event{Tenant: tn, Action: "billing.rare.event", Actor: audit.Ref{ID: "9"}, Resource: audit.Ref{Type: "invoice", ID: fmt.Sprintf("inv_%d", j)}})
	}
	for _, tn := range tenants[:3] {
		record(audit.Event{Tenant: tn, Action: "admin.only", Actor: audit.Ref{ID: "admin"}, Resource: audit.Ref{Type: "doc", ID: "acct_1"}})
	}
	for j := range 100 {
		record(audit.Event{Tenant: "acme", Action: "bulk.import", Actor: audit.Ref{ID: "bulk"}, Resource: audit.Ref{Type: "doc", ID: fmt.Sprintf("acct_%d", j%7)}})
	}
	return l
}

// match returns the seqs of the events q selects across every tenant (or
// q.Tenant), newest first.
func (l *allTenantsLog) match(q audit.Query) []int64 {
	var out []int64
	for _, e := range l.written {
		a := strings.ToLower(e.Action)
		term := strings.ToLower(q.Search)
		if (q.Tenant == "" || e.Tenant == q.Tenant) &&
			(q.Action == "" || e.Action == q.Action) &&
			(q.ActorID == "" || e.Actor.ID == q.ActorID) &&
			(q.ResourceType == "" || e.Resource.Type == q.ResourceType) &&
			(q.ResourceID == "" || e.Resource.ID == q.ResourceID) &&
			(q.Since.IsZero() || !e.OccurredAt.Before(q.Since)) &&
			(q.Until.IsZero() || e.OccurredAt.Before(q.Until)) &&
			(term == "" || strings.HasPrefix(a, term) || strings.Contains(a, "."+term)) {
			out = append(out, e.Seq)
		}
	}
	slices.Reverse(out)
	return out
}

// testAllTenantsPages checks pages and totals of the AllTenants view
// against a brute-force reading of what was written, for every filter,
// across tenants and narrowed to one by Query.Tenant, by cursor and by page
// number.
func testAllTenantsPages(t *testing.T, newStore NewStore) {
	l := seedTenants(t, newStore)
	ctx := t.Context()
	every := l.root.AllTenants()
	require.Equal(t, "", every.Tenant())
	since, until := l.base.Add(200*time.Minute), l.base.Add(700*time.Minute)
	queries := []audit.Query{
		{},
		{Action: "doc.shared"},
		{Action: "billing.rare.event"},
		{Action: "admin.only"},
		{Action: "nope"},
		{ActorID: "3"},
		{ActorID: "9"},
		{ResourceID: "acct_2"},
		{ResourceID: "inv_1"},
		{ResourceType: "folder"},
		{ResourceType: "doc", ResourceID: "acct_1"},
		{Action: "doc.created", ActorID: "2"},
		{Action: "admin.only", ActorID: "admin", ResourceID: "acct_1"},
		{Action: "bulk.import"},
		{ActorID: "bulk"},
		{ActorID: "bulk", ResourceID: "acct_2"},
		{Action: "bulk.import", ActorID: "bulk", ResourceID: "inv_0"},
		{Since: since},
		{Until: until},
		{Since: since, Until: until},
		{Action: "user.login", Since: since, Until: until},
		{ActorID: "9", Until: until},
		{Search: "doc"},
		{Search: "RARE"},
		{Search: "event"},
		{Search: "admin"},
		{Search: "zzz"},
		{Search: "doc", Action: "doc.shared"},
		{Search: "doc", Action: "user.login"},
		{Search: "doc", ActorID: "1"},
		{Search: "rare", ResourceID: "inv_1"},
		{Search: "log", Since: since, Until: until},
		{Search: "bulk"},
		{Search: "import", ActorID: "bulk"},
	}
	for _, base := range queries {
		for _, tn := range []string{"", "acme", "ACME", "%", "tenant-40", "nobody"} {
			q := base
			q.Tenant, q.PerPage = tn, 7
			want := l.match(q)
			got := all(t, every, q)
			require.Equal(t, want, seqs(got), "%+v", q)
			p, err := every.Recent(ctx, q)
			require.NoError(t, err, "%+v", q)
			require.Equal(t, len(want), p.TotalCount, "%+v", q)
			require.Equal(t, (len(want)+6)/7, p.TotalPages, "%+v", q)
			for _, e := range got {
				if tn != "" {
					require.Equal(t, tn, e.Tenant)
				}
			}
			// Page 3 by number is the third page by cursor.
			q.Page = 3
			p3, err := every.Recent(ctx, q)
			require.NoError(t, err, "%+v", q)
			require.Equal(t, fmt.Sprint(want[min(len(want), 14):min(len(want), 21)]), fmt.Sprint(seqs(p3.Entries)), "%+v", q)
			require.Equal(t, len(want), p3.TotalCount, "%+v", q)
			// Narrowed to one tenant, the view of that tenant agrees.
			if tn != "" {
				q.Tenant, q.Page = "", 0
				require.Equal(t, want, seqs(all(t, l.root.WithTenant(tn), q)), "%+v", q)
			}
		}
	}
	// Search and ForAccount across tenants page the same way.
	for _, term := range []string{"doc", "rare", "billing.rare", "zzz"} {
		s, err := every.Search(ctx, term, audit.Query{})
		require.NoError(t, err)
		want := l.match(audit.Query{Search: term})
		require.Equal(t, want[:min(len(want), audit.DefaultSearchLimit)], seqs(s.Entries), term)
		require.Equal(t, len(want), s.TotalCount, term)
	}
	f, err := every.ForAccount(ctx, "acct_3", audit.Query{PerPage: 1000})
	require.NoError(t, err)
	require.Equal(t, l.match(audit.Query{ResourceID: "acct_3"}), seqs(f.Entries))
	require.Equal(t, len(f.Entries), f.TotalCount)

	// Query.Tenant on the other views: its own tenant only.
	acme := l.root.WithTenant("acme")
	p, err := acme.Recent(ctx, audit.Query{Tenant: "acme", PerPage: 1000})
	require.NoError(t, err)
	require.Equal(t, l.match(audit.Query{Tenant: "acme"}), seqs(p.Entries))
	for _, c := range []struct {
		l      *audit.Logger
		tenant string
	}{{acme, "ACME"}, {acme, "beta"}, {l.root, "acme"}, {l.root.WithTenant(""), "acme"}} {
		_, err := c.l.Recent(ctx, audit.Query{Tenant: c.tenant})
		require.ErrorIs(t, err, audit.ErrInvalidQuery, "%q on %q", c.tenant, c.l.Tenant())
	}
	_, err = every.Recent(ctx, audit.Query{Tenant: "\xff"})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
	var defaultTenant []int64
	for _, e := range l.written {
		if e.Tenant == "" {
			defaultTenant = append(defaultTenant, e.Seq)
		}
	}
	slices.Reverse(defaultTenant)
	p, err = l.root.Recent(ctx, audit.Query{PerPage: 1000})
	require.NoError(t, err)
	require.Equal(t, defaultTenant, seqs(p.Entries), "the root logger reads the default tenant")
}

// testAllTenantsReads checks Get, Actions, cursors, writes and the limits
// of the AllTenants view.
func testAllTenantsReads(t *testing.T, newStore NewStore) {
	l := seedTenants(t, newStore)
	ctx := t.Context()
	every := l.root.AllTenants()
	require.Same(t, every, every.AllTenants().AllTenants())

	// Get finds every tenant's events; entries carry their tenant.
	for _, e := range l.written[len(l.written)-100:] {
		got, err := every.Get(ctx, e.ID)
		require.NoError(t, err)
		sameEvent(t, e, got)
	}
	_, err := every.Get(ctx, "no-such-id")
	require.ErrorIs(t, err, audit.ErrNotFound)

	// Actions: every tenant's, counts summed, most frequent first.
	counts := map[string]int64{}
	for _, e := range l.written {
		counts[e.Action]++
	}
	var want []audit.ActionCount
	for a, n := range counts {
		want = append(want, audit.ActionCount{Action: a, Count: n})
	}
	slices.SortFunc(want, func(a, b audit.ActionCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Action, b.Action))
	})
	got, err := every.Actions(ctx, "", 1000)
	require.NoError(t, err)
	require.Equal(t, want, got)
	got, err = every.Actions(ctx, "DOC.", 1)
	require.NoError(t, err)
	require.Equal(t, want[:1], got)
	got, err = every.Actions(ctx, "billing", 10)
	require.NoError(t, err)
	require.Equal(t, []audit.ActionCount{{Action: "billing.rare.event", Count: int64(len(manyTenants()))}}, got)
	got, err = every.Actions(ctx, "rare", 10) // any segment, as Search and a tenant's view match
	require.NoError(t, err)
	require.Equal(t, []audit.ActionCount{{Action: "billing.rare.event", Count: int64(len(manyTenants()))}}, got)

	// Cursors are bound to the view: one made on a view is refused on
	// every other, even one that sees the same events.
	acme := l.root.WithTenant("acme")
	views := []struct {
		name string
		l    *audit.Logger
		q    audit.Query
	}{
		{"all", every, audit.Query{PerPage: 2}},
		{"all, acme", every, audit.Query{PerPage: 2, Tenant: "acme"}},
		{"all, ACME", every, audit.Query{PerPage: 2, Tenant: "ACME"}},
		{"acme", acme, audit.Query{PerPage: 2}},
		{"acme, its Tenant", acme, audit.Query{PerPage: 2, Tenant: "acme"}},
		{"root", l.root, audit.Query{PerPage: 2}},
		{"the view of \"\"", l.root.WithTenant(""), audit.Query{PerPage: 2}},
		{"all, \"\" by Query", every, audit.Query{PerPage: 2, Tenant: ""}},
	}
	for _, from := range views {
		p, err := from.l.Recent(ctx, from.q)
		require.NoError(t, err, from.name)
		require.NotEmpty(t, p.Next, from.name)
		for _, to := range views {
			q := to.q
			q.After = p.Next
			_, err := to.l.Recent(ctx, q)
			sameView := from.l == to.l && from.q.Tenant == to.q.Tenant ||
				from.l == to.l && from.l == acme // "acme" and "" are the same on acme's view
			if sameView {
				require.NoError(t, err, "%s on %s", from.name, to.name)
			} else {
				require.ErrorIs(t, err, audit.ErrInvalidCursor, "%s on %s", from.name, to.name)
			}
		}
	}

	// Writes through the AllTenants view go where the event says, as the
	// root logger's do.
	e, err := every.Record(ctx, audit.Event{Tenant: "acme", Action: "doc.exported"})
	require.NoError(t, err)
	require.Equal(t, "acme", e.Tenant)
	e, err = every.Track(ctx, nil, "doc.exported", nil)
	require.NoError(t, err)
	require.Equal(t, "", e.Tenant)
	p, err := every.Recent(ctx, audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.Equal(t, len(l.written)+2, p.TotalCount)

	// The view is no root: it neither closes the log nor hands out the
	// store. WithTenant on it narrows to one tenant.
	require.ErrorIs(t, every.Close(), audit.ErrOutOfScope)
	requireStoreDenied(t, every.Store(), e)
	narrowed := every.WithTenant("acme")
	require.Equal(t, "acme", narrowed.Tenant())
	p, err = narrowed.Recent(ctx, audit.Query{PerPage: 1000})
	require.NoError(t, err)
	for _, x := range p.Entries {
		require.Equal(t, "acme", x.Tenant)
	}
	requireDenied(t, narrowed.AllTenants(), l.root, l.written[0])
	requireDenied(t, narrowed.WithTenant("beta"), l.root, l.written[0])
	_, err = l.root.Track(ctx, nil, "still.open", nil)
	require.NoError(t, err)
}

// testAllTenantsNaughty writes one event into a tenant named by each valid
// string of the Big List of Naughty Strings and reads them back across
// tenants.
func testAllTenantsNaughty(t *testing.T, newStore NewStore) {
	root := setup(t, newStore, audit.WithRedactKeys())
	ctx := t.Context()
	every := root.AllTenants()
	strs := append(slices.Clone(hardTenants), LoadNaughtyStrings(t)...)
	byTenant := map[string]audit.Event{}
	for _, s := range strs {
		if _, ok := byTenant[s]; ok {
			continue
		}
		e, err := root.Record(ctx, audit.Event{Tenant: s, Action: "naughty.tenant", Actor: audit.Ref{ID: s}})
		require.NoError(t, err, "%q", s)
		byTenant[s] = e
	}
	p, err := every.Recent(ctx, audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.Equal(t, len(byTenant), p.TotalCount)
	p, err = every.Recent(ctx, audit.Query{PerPage: 1, Action: "naughty.tenant"})
	require.NoError(t, err)
	require.Equal(t, len(byTenant), p.TotalCount)
	for s, e := range byTenant {
		got, err := every.Get(ctx, e.ID)
		require.NoError(t, err, "%q", s)
		require.Equal(t, s, got.Tenant)
		if s == "" { // as Query.Tenant and ActorID, "" means any
			continue
		}
		p, err := every.Recent(ctx, audit.Query{Tenant: s, ActorID: s})
		require.NoError(t, err, "%q", s)
		require.Equal(t, []int64{e.Seq}, seqs(p.Entries), "%q", s)
		require.Equal(t, 1, p.TotalCount, "%q", s)
		p, err = every.Recent(ctx, audit.Query{ActorID: s})
		require.NoError(t, err, "%q", s)
		require.Equal(t, []int64{e.Seq}, seqs(p.Entries), "%q", s)
	}
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
