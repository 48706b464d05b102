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

	// counted is the total of q counted by walking its pages.
	counted := func(lt *audit.Logger, q audit.Query) int64 {
		var n int64
		for e, err := range lt.All(ctx, q) {
			require.NoError(t, err)
			_ = e
			n++
		}
		return n
	}
	check := func(step string) {
		t.Helper()
		for _, tenant := range []string{"", "acme"} {
			lt := l.WithTenant(tenant)
			for _, q := range []audit.Query{
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
			} {
				p, err := lt.Recent(ctx, q)
				require.NoError(t, err)
				require.Equal(t, counted(lt, q), int64(p.TotalCount), "%s: tenant %q, %+v", step, tenant, q)
			}
			acts, err := lt.Actions(ctx, "doc", 10)
			require.NoError(t, err)
			for _, a := range acts {
				require.Equal(t, counted(lt, audit.Query{Action: a.Action}), a.Count, "%s: tenant %q, action %s", step, tenant, a.Action)
			}
			sugg, err := lt.Suggest(ctx, "u", 10)
			require.NoError(t, err)
			for _, s := range sugg {
				q := audit.Query{ActorID: s.Value, ActorType: s.Type}
				if s.Kind == audit.SuggestResource {
					q = audit.Query{Subject: s.Value, SubjectType: s.Type}
				}
				if s.Kind != audit.SuggestAction {
					require.Equal(t, counted(lt, q), s.Count, "%s: tenant %q, suggestion %+v", step, tenant, s)
				}
			}
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
