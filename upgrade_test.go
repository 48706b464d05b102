package audit_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// TestUpgradeFromFoldlessRelease opens a file written by the release before
// the fold (testdata/release-2026-12-02-m4.sql: the sqlite3 shell's .dump
// of a file that release wrote, schema migrations 1 to 4, counts kept in
// every commit; 40 events in the tenants "", "acme" and "globex") and
// checks that it migrates to 5, verifies, and that every total read
// through the folded counts agrees with the events counted one by one,
// before and after enough new events that the counts are folded in.
func TestUpgradeFromFoldlessRelease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := openDump(t, "release-2026-12-02-m4.sql")
	store := l.Store().(*audit.SQLiteStore)
	require.Equal(t, []int{5}, store.Migrated())
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 40, OK: true}, rep)
	var folded int64
	require.NoError(t, store.DB().GetContext(ctx, &folded, `SELECT seq FROM audit_fold`))
	require.Equal(t, int64(40), folded, "the migration folds in every event it finds")

	all := l.AllTenants()
	tenants := []string{"", "acme", "globex"}
	views := map[string]*audit.Logger{"all tenants": all}
	for _, tenant := range tenants {
		views[fmt.Sprintf("tenant %q", tenant)] = l.WithTenant(tenant)
	}
	counted := func(lt *audit.Logger, q audit.Query) int64 { return walkedTotal(t, lt, q) }
	queries := []audit.Query{
		{},
		{Action: "doc.read"},
		{Action: "billing.invoice.paid"},
		{ActorID: "u1"},
		{ActorID: "u1", ActorType: "user"},
		{ActorID: "u1", ActorType: "bot"},
		{ActorID: "u2", ActorType: "user"},
		{ActorID: "svc_billing"},
		{ResourceID: "prj_1"},
		{ResourceID: "prj_1", ResourceType: "project"},
		{ResourceID: "prj_1", ResourceType: "doc"},
		{ResourceID: "doc_1"},
		{Subject: "prj_1"},
		{Subject: "prj_1", SubjectType: "billing_account"},
		{Subject: "prj_2", SubjectType: "project"},
		{Subject: "acct_1"},
		{Outcome: audit.OutcomeFailure},
		{Outcome: audit.OutcomeSuccess},
		{Outcome: audit.OutcomeFailure, Action: "doc.read"},
	}
	check := func(step string, want int64) {
		t.Helper()
		for _, q := range queries {
			var sum int64
			for name, lt := range views {
				p, err := lt.Recent(ctx, q)
				require.NoError(t, err)
				n := counted(lt, q)
				require.Equal(t, n, int64(p.TotalCount), "%s: %s, %+v", step, name, q)
				if name != "all tenants" {
					sum += n
				}
			}
			require.Positive(t, sum, "%s: %+v matches some events", step, q)
			require.Equal(t, counted(all, q), sum, "%s: %+v over the tenants", step, q)
		}
		require.Equal(t, want, counted(all, audit.Query{}), step)
		terms := []string{"u", "zo", "prj", "rob", "søren", "projekt ü", "acct", "billing", "svc", "paid"}
		for name, lt := range views {
			acts, err := lt.Actions(ctx, "", 100)
			require.NoError(t, err)
			require.NotEmpty(t, acts, "%s: %s", step, name)
			requireTotalsExact(t, step+": "+name, lt, nil, []string{"", "doc", "BILLING.inv"}, terms)
			if lt == all {
				for _, term := range terms {
					sugg, err := lt.Suggest(ctx, term, 100)
					require.NoError(t, err)
					require.NotEmpty(t, sugg, "%s: suggest %q", step, term)
				}
			}
			// The actor renamed midway goes by the latest name.
			sugg, err := lt.Suggest(ctx, "u2", 10)
			require.NoError(t, err)
			require.Equal(t, []audit.Suggestion{{Kind: audit.SuggestActor, Value: "u2", Type: "user", Name: "Robert",
				Count: counted(lt, audit.Query{ActorID: "u2", ActorType: "user"})}}, sugg, "%s: %s", step, name)
		}
		rep, err := l.Verify(ctx)
		require.NoError(t, err)
		require.Equal(t, audit.VerifyReport{Checked: want, OK: true}, rep, step)
	}
	check("after the upgrade", 40)

	// New events, of the old keys and new ones, one at a time and then
	// from callers at once, well past the library's fold interval.
	track := func(i int) error {
		lt := l.WithTenant(tenants[i%3])
		var topts []audit.TrackOption
		if i%4 == 1 {
			topts = append(topts, audit.WithTargets(audit.Ref{Type: "billing_account", ID: "prj_1", Name: "Zoë & Co"}))
		}
		if i%5 == 2 {
			topts = append(topts, audit.WithTargets(audit.Ref{Type: "billing_account", ID: fmt.Sprint("acct_", i%4)}))
		}
		if i%7 == 3 {
			topts = append(topts, audit.Failed())
		}
		actor := []audit.Ref{{Type: "user", ID: "u1", Name: "Alice"}, {Type: "user", ID: "u2", Name: "Robert"},
			{Type: "bot", ID: "u1", Name: "Deploy bot"}, {Type: "user", ID: fmt.Sprint("u", 4+i%3), Name: "Ünal"}}[i%4]
		resource := []audit.Ref{{Type: "project", ID: "prj_1", Name: "Apollo"}, {Type: "doc", ID: "prj_1"},
			{Type: "doc", ID: "doc_1", Name: "Résumé.pdf"}, {Type: "project", ID: fmt.Sprint("prj_", 4+i%2), Name: "Über"}}[i%4]
		action := []string{"doc.read", "billing.invoice.paid", "doc.edit", "after.upgrade"}[i%4]
		_, err := lt.Track(ctx, actor, action, resource, topts...)
		return err
	}
	const oneByOne, callers, perCaller = 200, 8, 20
	for i := range oneByOne {
		require.NoError(t, track(i))
	}
	check("after events one by one", 40+oneByOne)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for j := range perCaller {
				assert.NoError(t, track(c*perCaller+j))
			}
		})
	}
	wg.Wait()
	check("after callers at once", 40+oneByOne+callers*perCaller)
	require.NoError(t, store.DB().GetContext(ctx, &folded, `SELECT seq FROM audit_fold`))
	require.Greater(t, folded, int64(40+oneByOne), "the counts were folded in since")
}
