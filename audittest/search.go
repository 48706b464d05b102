package audittest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/trailkit/audit"
)

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
	// The same rule as Search: a prefix of the action or of any of its
	// dot-separated segments ("admin.user.x" has a segment "user.x").
	got, err := l.Actions(ctx, "user", 10)
	require.NoError(t, err)
	require.Equal(t, []audit.ActionCount{{Action: "user.created", Count: 5}, {Action: "admin.user.x", Count: 4}, {Action: "user.deleted", Count: 2}, {Action: "User.Renamed", Count: 1}}, got)
	got, err = l.Actions(ctx, "del", 10)
	require.NoError(t, err)
	require.Equal(t, []audit.ActionCount{{Action: "user.deleted", Count: 2}}, got, "Actions agrees with Search")
	found, err := l.Search(ctx, "del", audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 2, found.TotalCount)
	got, err = l.Actions(ctx, "USER.", 2)
	require.NoError(t, err)
	require.Equal(t, []audit.ActionCount{{Action: "user.created", Count: 5}, {Action: "admin.user.x", Count: 4}}, got)
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
