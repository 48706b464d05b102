package audit_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/internal/sqlcore"
)

// testFoldEvery is how often the tests of this package fold the counts in
// (the library's default is sqlcore.DefaultFoldEvery, 256): every few
// events, so that every test's reads meet counts both folded and not, at
// every point between two folds. It changes when the counts are folded,
// never what a read returns. Benchmarks keep the default: a run that
// asks for them (-bench) leaves it alone.
const testFoldEvery = 3

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		sqlcore.SetFoldEvery(testFoldEvery)
	}
	os.Exit(m.Run())
}

// TestFoldKeepsCountsExact writes events one and several at a time across
// folds, in tenants, and checks after each write that every total read
// through the counts agrees with the events counted one by one, and that
// Verify holds; then that Verify finds a fold moved by hand.
func TestFoldKeepsCountsExact(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "audit.db")
	l, err := audit.Open(ctx, path)
	require.NoError(t, err)
	defer l.Close()

	queries := []audit.Query{
		{},
		{Action: "doc.read"},
		{Action: "doc.edit"},
		{Outcome: audit.OutcomeFailure},
		{Outcome: audit.OutcomeSuccess},
		{ActorID: "u1"},
		{ActorID: "u1", ActorType: "user"},
		{ActorID: "u2"},
		{ResourceID: "d1"},
		{ResourceID: "d1", ResourceType: "doc"},
		{Subject: "p1"},
		{Subject: "p1", SubjectType: "project"},
		{Subject: "d1"},
	}
	check := func(step string) {
		t.Helper()
		for _, tenant := range []string{"", "acme"} {
			requireTotalsExact(t, fmt.Sprintf("%s: tenant %q", step, tenant), l.WithTenant(tenant), queries,
				[]string{"doc"}, []string{"u", "d", "p"})
		}
		rep, err := l.Verify(ctx)
		require.NoError(t, err)
		require.True(t, rep.OK, "%s: %s", step, rep.Reason)
	}

	check("empty")
	for i := range 20 {
		lt := l.WithTenant([]string{"", "acme"}[i%2])
		opts := []audit.TrackOption{audit.WithTargets(audit.Ref{Type: "project", ID: "p1"}, audit.Ref{Type: "doc", ID: "d1"})}
		if i%3 == 0 {
			opts = append(opts, audit.Failed())
		}
		_, err := lt.Track(ctx, audit.Ref{Type: "user", ID: fmt.Sprint("u", 1+i%2), Name: fmt.Sprint("User ", i)},
			[]string{"doc.read", "doc.edit"}[i%2], audit.Ref{Type: "doc", ID: fmt.Sprint("d", i%4)}, opts...)
		require.NoError(t, err)
		check(fmt.Sprint("after event ", i+1))
	}
	// Batches larger than the fold interval: callers at once share
	// transactions.
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			_, err := l.Track(ctx, audit.Ref{Type: "bot", ID: "u1"}, "doc.read", audit.Ref{Type: "doc", ID: fmt.Sprint("d", i%3)})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	check("after 16 callers at once")

	// A fold moved back by hand counts events twice; Verify says so.
	require.NoError(t, l.Close())
	shell(t, path, `UPDATE audit_fold SET seq = seq - 2`)
	rep := verify(t, path)
	require.False(t, rep.OK)
	require.Contains(t, rep.Reason, "derived: ")
}

// walkedTotal is the number of events q selects in l's view, counted by
// walking them.
func walkedTotal(t *testing.T, l *audit.Logger, q audit.Query) int64 {
	t.Helper()
	var n int64
	for _, err := range l.All(t.Context(), q) {
		require.NoError(t, err)
		n++
	}
	return n
}

// requireTotalsExact checks in l's view that the total of every query, the
// count of every action Actions returns for each prefix and of every
// suggestion Suggest returns for each term are the events walked; step
// names the check.
func requireTotalsExact(t *testing.T, step string, l *audit.Logger, queries []audit.Query, prefixes, terms []string) {
	t.Helper()
	ctx := t.Context()
	for _, q := range queries {
		p, err := l.Recent(ctx, q)
		require.NoError(t, err)
		require.Equal(t, walkedTotal(t, l, q), int64(p.TotalCount), "%s: %+v", step, q)
	}
	for _, prefix := range prefixes {
		acts, err := l.Actions(ctx, prefix, 100)
		require.NoError(t, err)
		for _, a := range acts {
			require.Equal(t, walkedTotal(t, l, audit.Query{Action: a.Action}), a.Count, "%s: action %s", step, a.Action)
		}
	}
	for _, term := range terms {
		sugg, err := l.Suggest(ctx, term, 100)
		require.NoError(t, err)
		for _, s := range sugg {
			require.Equal(t, walkedTotal(t, l, s.Filter()), s.Count, "%s: suggestion %+v", step, s)
		}
	}
}
