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

// testSuggest checks suggestions: actions by segment, actors and resources
// (targets too) by ID or name prefix, any case, every character literal;
// most frequent first; each Count the total of the filter its pick
// stands for; scoped to the view's tenant, summed across tenants.
func testSuggest(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	alice := audit.Ref{Type: "user", ID: "u_1", Name: "Alice Émile"}
	bob := audit.Ref{Type: "user", ID: "u_2", Name: "Bob"}
	acct := audit.Ref{Type: "billing_account", ID: "acct_42", Name: "Acme Corp"}
	for i := range 12 {
		actor := []audit.Ref{alice, bob, alice}[i%3]
		_, err := l.Track(ctx, actor, []string{"project.deleted", "billing.invoice.paid", "user.deleted"}[i%3],
			audit.Ref{Type: "invoice", ID: fmt.Sprint("inv_", i%4), Name: "Invoice %_"}, audit.WithTargets(acct))
		require.NoError(t, err)
	}
	_, err := l.Track(ctx, nil, "account.closed", acct)
	require.NoError(t, err)
	_, err = l.WithTenant("other").Track(ctx, audit.Ref{Type: "user", ID: "u_1", Name: "Alien"}, "acme.other", acct)
	require.NoError(t, err)

	check := func(v *audit.Logger, term string, limit int) []audit.Suggestion {
		t.Helper()
		return suggestChecked(t, v, term, limit)
	}
	// "del" suggests the actions Search("del") finds: the lists agree.
	got := check(l, "DEL", 10)
	require.Equal(t, []string{"action:project.deleted", "action:user.deleted"}, values(got))
	// Names and IDs, any case, of actors and resources; a target is a
	// resource, with the events that name it as a target counted.
	got = check(l, "acme", 10)
	require.Equal(t, []string{"resource:acct_42"}, values(got), "another tenant's action acme.other is not suggested")
	require.Equal(t, audit.Suggestion{Kind: "resource", Value: "acct_42", Type: "billing_account", Name: "Acme Corp", Count: 13}, got[0])
	got = check(l, "alice é", 10)
	require.Equal(t, []audit.Suggestion{{Kind: "actor", Value: "u_1", Type: "user", Name: "Alice Émile", Count: 8}}, got)
	got = check(l, "u_", 10)
	require.Equal(t, []string{"actor:u_1", "actor:u_2"}, values(got))
	// Every character literal: '%' and '_' match themselves only.
	got = check(l, "invoice %_", 10)
	require.Len(t, got, 4)
	require.Empty(t, check(l, "%", 10))
	require.Empty(t, check(l, "u%", 10))
	// The limit is over all kinds together.
	got = check(l, "a", 2)
	require.Len(t, got, 2)
	require.Empty(t, check(l, "", 10), "no term, no suggestions")
	// A renamed actor is found under its new name too.
	_, err = l.Track(ctx, audit.Ref{Type: "user", ID: "u_2", Name: "Roberta"}, "user.renamed", nil)
	require.NoError(t, err)
	got = check(l, "rob", 10)
	require.Equal(t, []audit.Suggestion{{Kind: "actor", Value: "u_2", Type: "user", Name: "Roberta", Count: 5}}, got)
	got = check(l, "bob", 10)
	require.Equal(t, "Roberta", got[0].Name, "the old name still finds it, under its latest name")
	// Scoped to the view; summed across tenants on the AllTenants view.
	got = check(l.WithTenant("other"), "a", 10)
	require.Equal(t, []string{"action:acme.other", "actor:u_1", "resource:acct_42"}, values(got))
	got = check(l.AllTenants(), "acme", 10)
	require.Equal(t, audit.Suggestion{Kind: "resource", Value: "acct_42", Type: "billing_account", Name: "Acme Corp", Count: 14}, got[0])
	_, err = l.Suggest(ctx, "x", -1)
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
	_, err = l.Suggest(ctx, "\xff", 1)
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
}

// suggestChecked returns v's suggestions for term, having checked that
// there are at most limit, most frequent first, and that each Count is
// the total of the filter its pick stands for.
func suggestChecked(t *testing.T, v *audit.Logger, term string, limit int) []audit.Suggestion {
	t.Helper()
	got, err := v.Suggest(t.Context(), term, limit)
	require.NoError(t, err, "%q", term)
	require.LessOrEqual(t, len(got), limit)
	for i, s := range got {
		q := s.Filter()
		q.PerPage = 1
		p, err := v.Recent(t.Context(), q)
		require.NoError(t, err)
		require.Equal(t, p.TotalCount, int(s.Count), "the count of %+v is the total of its filter", s)
		if i > 0 {
			require.GreaterOrEqual(t, got[i-1].Count, s.Count, "most frequent first")
		}
	}
	return got
}

// values names suggestions kind:value, in order.
func values(got []audit.Suggestion) []string {
	var out []string
	for _, s := range got {
		out = append(out, s.Kind+":"+s.Value)
	}
	return out
}

// testSuggestCandidates checks the bound of what a keystroke reads
// (sqlcore.SuggestCandidates): a term that starts more IDs of a kind than
// the limit, and at least sqlcore.MinSuggestCandidates, ranks the first
// of them in ID order, so the most frequent may be missing; a further
// character or a larger limit finds it. And a resource that the target
// IDs read name, past where the resource IDs read stop, is never
// suggested with a count short of its total.
func testSuggestCandidates(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	user := func(i int) audit.Ref { return audit.Ref{Type: "user", ID: fmt.Sprintf("u_%02d", i)} }
	doc := func(i int) audit.Ref { return audit.Ref{Type: "doc", ID: fmt.Sprintf("doc_%02d", i)} }
	for i := range 12 {
		_, err := l.Track(ctx, user(i), "doc.edited", doc(i))
		require.NoError(t, err)
	}
	// u_11 is the most active actor, doc_11 the most shared document: as
	// a target, with another resource.
	for range 5 {
		_, err := l.Track(ctx, user(11), "doc.shared", audit.Ref{Type: "folder", ID: "folder_1"}, audit.WithTargets(doc(11)))
		require.NoError(t, err)
	}
	one := func(got []audit.Suggestion, kind string, n int) {
		t.Helper()
		require.Len(t, got, n)
		for _, s := range got {
			require.Equal(t, kind, s.Kind)
			require.EqualValues(t, 1, s.Count, "%+v", s)
		}
	}
	// "u_" starts 12 actor IDs; limit 5 reads the first 10 (u_00 to u_09).
	got := suggestChecked(t, l, "u_", 5)
	one(got, "actor", 5)
	require.Equal(t, "u_00", got[0].Value)
	got = suggestChecked(t, l, "u_1", 5)
	require.Equal(t, []string{"actor:u_11", "actor:u_10"}, values(got))
	require.EqualValues(t, 6, got[0].Count)
	got = suggestChecked(t, l, "u_", 12)
	require.Equal(t, "actor:u_11", values(got)[0], "a limit of 12 reads all 12")
	// The resource IDs read stop at doc_09; the target IDs read include
	// doc_11, which is not suggested with its 5 target events alone.
	got = suggestChecked(t, l, "doc_", 5)
	one(got, "resource", 5)
	require.NotContains(t, values(got), "resource:doc_11")
	got = suggestChecked(t, l, "doc_1", 5)
	require.Equal(t, []string{"resource:doc_11", "resource:doc_10"}, values(got))
	require.EqualValues(t, 6, got[0].Count)
	got = suggestChecked(t, l, "doc_", 12)
	require.Equal(t, audit.Suggestion{Kind: "resource", Value: "doc_11", Type: "doc", Count: 6}, got[0])
	// The same across tenants: each count whole.
	suggestChecked(t, l.AllTenants(), "doc_", 5)
	suggestChecked(t, l.AllTenants(), "u_", 5)
	got = suggestChecked(t, l.AllTenants(), "doc_1", 5)
	require.Equal(t, []string{"resource:doc_11", "resource:doc_10"}, values(got))
}
