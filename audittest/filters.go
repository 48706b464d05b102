package audittest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// readModelLog writes events with everything the richer filters look at:
// outcomes, actor types, targets (some equal to the resource, some of the
// resource's ID with another type, some repeated), several tenants.
func readModelLog(t *testing.T, l *audit.Logger) []audit.Event {
	t.Helper()
	ctx := t.Context()
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var written []audit.Event
	for i := range 120 {
		actor := audit.Ref{Type: []string{"user", "api_key", "service"}[i%3], ID: fmt.Sprint("a", i%4)}
		resource := audit.Ref{Type: []string{"invoice", "account"}[i%2], ID: fmt.Sprint("acct_", i%5)}
		var targets []any
		switch i % 6 {
		case 1:
			targets = []any{audit.Ref{Type: "account", ID: fmt.Sprint("acct_", (i+1)%5)}}
		case 2:
			targets = []any{resource} // the resource again
		case 3:
			targets = []any{audit.Ref{Type: "user", ID: resource.ID}, audit.Ref{Type: "user", ID: resource.ID}} // same ID, other type, twice
		case 4:
			targets = []any{audit.Ref{Type: "account", ID: "acct_9"}, audit.Ref{Type: "project", ID: "acct_9"}}
		}
		opts := []audit.TrackOption{audit.At(base.Add(time.Duration(i) * time.Minute)), audit.WithTargets(targets...)}
		if i%4 == 0 {
			opts = append(opts, audit.Failed())
		}
		e, err := l.WithTenant([]string{"", "acme", "beta"}[i%3]).Track(ctx, actor,
			[]string{"billing.invoice.paid", "billing.invoice.sent", "project.deleted", "user.signed_in"}[i%4], resource, opts...)
		require.NoError(t, err)
		written = append(written, e)
	}
	return written
}

// matches is the brute-force reading of q over written: what a query must
// return, in q's order.
func matches(written []audit.Event, tenant string, allTenants bool, q audit.Query) []int64 {
	var out []int64
	about := func(e audit.Event) bool {
		if q.Subject == "" {
			return true
		}
		refs := append([]audit.Ref{e.Resource}, e.Targets...)
		return slices.ContainsFunc(refs, func(r audit.Ref) bool {
			return r.ID == q.Subject && (q.SubjectType == "" || r.Type == q.SubjectType)
		})
	}
	for _, e := range written {
		if (allTenants && (q.Tenant == "" || e.Tenant == q.Tenant) || !allTenants && e.Tenant == tenant) &&
			(q.Action == "" || e.Action == q.Action) &&
			(q.ActorID == "" || e.Actor.ID == q.ActorID) &&
			(q.ActorType == "" || e.Actor.Type == q.ActorType) &&
			(q.ResourceType == "" || e.Resource.Type == q.ResourceType) &&
			(q.ResourceID == "" || e.Resource.ID == q.ResourceID) &&
			(q.Outcome == "" || e.Outcome == q.Outcome) &&
			(q.FromSeq == 0 || e.Seq >= q.FromSeq) && (q.ToSeq == 0 || e.Seq <= q.ToSeq) &&
			(q.Since.IsZero() || !e.OccurredAt.Before(q.Since)) &&
			(q.Until.IsZero() || e.OccurredAt.Before(q.Until)) &&
			(q.Search == "" || strings.HasPrefix(e.Action, q.Search) || strings.Contains(e.Action, "."+q.Search)) &&
			about(e) {
			out = append(out, e.Seq)
		}
	}
	if q.Order != audit.OldestFirst {
		slices.Reverse(out)
	}
	return out
}

// testReadModelFilters checks every filter of the read model, alone and
// combined, in both orders, on a tenant's view and across tenants: the
// entries walked by cursor and by page number, and the exact total,
// against a brute-force reading.
func testReadModelFilters(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	written := readModelLog(t, l)
	since := written[30].OccurredAt
	shapes := []audit.Query{
		{},
		{Outcome: audit.OutcomeFailure},
		{Outcome: audit.OutcomeSuccess},
		{ActorType: "api_key"},
		{ActorID: "a1"},
		{ActorID: "a1", ActorType: "api_key"},
		{ActorID: "a1", ActorType: "user"},
		{ResourceID: "acct_2"},
		{ResourceID: "acct_2", ResourceType: "invoice"},
		{Subject: "acct_2"},
		{Subject: "acct_2", SubjectType: "user"},
		{Subject: "acct_2", SubjectType: "account"},
		{Subject: "acct_9"},
		{Subject: "acct_9", SubjectType: "project"},
		{Subject: "nobody"},
		{Subject: "acct_1", Outcome: audit.OutcomeFailure},
		{Subject: "acct_3", Action: "billing.invoice.sent"},
		{Subject: "acct_4", Since: since},
		{Subject: "acct_0", Search: "invoice"},
		{Subject: "acct_0", FromSeq: 20, ToSeq: 90},
		{Action: "project.deleted", Outcome: audit.OutcomeFailure},
		{ActorType: "service", Outcome: audit.OutcomeSuccess},
		{FromSeq: 10},
		{ToSeq: 50},
		{FromSeq: 40, ToSeq: 45},
		{FromSeq: 40, ToSeq: 45, ActorID: "a0"},
		{Search: "invoice", Outcome: audit.OutcomeFailure},
	}
	views := []struct {
		name   string
		l      *audit.Logger
		tenant string
		all    bool
	}{
		{"default tenant", l, "", false},
		{"acme", l.WithTenant("acme"), "acme", false},
		{"every tenant", l.AllTenants(), "", true},
	}
	for _, v := range views {
		for _, shape := range shapes {
			for _, order := range []audit.Order{audit.NewestFirst, audit.OldestFirst} {
				q := shape
				q.Order, q.PerPage = order, 7
				want := matches(written, v.tenant, v.all, q)
				name := fmt.Sprintf("%s %+v", v.name, q)
				require.Equal(t, want, seqs(all(t, v.l, q)), "%s: entries by cursor", name)
				p, err := v.l.Recent(ctx, q)
				require.NoError(t, err, name)
				require.Equal(t, len(want), p.TotalCount, "%s: total", name)
				if len(want) > 7 {
					q.Page = 2
					p, err := v.l.Recent(ctx, q)
					require.NoError(t, err, name)
					require.Equal(t, want[7:min(14, len(want))], seqs(p.Entries), "%s: page 2 by number", name)
				}
			}
		}
	}
	// Across tenants, narrowed to one.
	q := audit.Query{Tenant: "beta", Subject: "acct_2", PerPage: 5}
	require.Equal(t, matches(written, "", true, q), seqs(all(t, l.AllTenants(), q)))
}

// testForAccountTargets: ForAccount finds the events about an account,
// whether it is their resource or one of their targets, as the README's
// own example records an invoice.
func testForAccountTargets(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	account := BillingAccount{ID: "acct_42", Name: "Acme Corp"}
	invoice := audit.Ref{Type: "invoice", ID: "inv_1"}
	created, err := l.Track(ctx, nil, "billing.account.created", account)
	require.NoError(t, err)
	paid, err := l.Track(ctx, nil, "billing.invoice.paid", invoice, audit.WithTargets(account))
	require.NoError(t, err)
	_, err = l.Track(ctx, nil, "billing.invoice.paid", audit.Ref{Type: "invoice", ID: "inv_2"})
	require.NoError(t, err)
	p, err := l.ForAccount(ctx, "acct_42", audit.Query{})
	require.NoError(t, err)
	require.Equal(t, []int64{paid.Seq, created.Seq}, seqs(p.Entries), "newest first, the invoice found under its target account")
	require.Equal(t, 2, p.TotalCount)
	r, err := l.Recent(ctx, audit.Query{ResourceID: "acct_42"})
	require.NoError(t, err)
	require.Equal(t, []int64{created.Seq}, seqs(r.Entries), "ResourceID looks at the resource only")
	p, err = l.ForAccount(ctx, "acct_42", audit.Query{Order: audit.OldestFirst, PerPage: 1})
	require.NoError(t, err)
	require.Equal(t, []int64{created.Seq}, seqs(p.Entries))
	p, err = l.ForAccount(ctx, "acct_42", audit.Query{Order: audit.OldestFirst, PerPage: 1, After: p.Next})
	require.NoError(t, err)
	require.Equal(t, []int64{paid.Seq}, seqs(p.Entries))
	require.Empty(t, p.Next)
	_, err = l.ForAccount(ctx, "acct_42", audit.Query{Subject: "other"})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
}

// testQueryShapesRefused: combinations that mean nothing are refused, not
// answered with nothing.
func testQueryShapesRefused(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	for _, q := range []audit.Query{
		{Action: "billing.*"},
		{Action: ".*"},
		{Outcome: "maybe"},
		{Order: 7},
		{Subject: "x", ResourceID: "y"},
		{Subject: "x", ResourceType: "doc"},
		{SubjectType: "doc"},
		{FromSeq: -1},
		{ToSeq: -5},
		{FromSeq: 10, ToSeq: 9},
		{ActorType: "\xff"},
		{Subject: strings.Repeat("s", audit.MaxFieldBytes+1)},
	} {
		_, err := l.Recent(ctx, q)
		require.ErrorIs(t, err, audit.ErrInvalidQuery, "%+v", q)
	}
	// An action that holds a '*' elsewhere is an action like any other.
	e, err := l.Track(ctx, nil, "sale.50%*off", nil)
	require.NoError(t, err)
	p, err := l.Recent(ctx, audit.Query{Action: "sale.50%*off"})
	require.NoError(t, err)
	require.Equal(t, []int64{e.Seq}, seqs(p.Entries))
}
