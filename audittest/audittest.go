// Package audittest is the conformance suite that every audit.Store must
// pass. It drives a Logger built on the store through the public API only:
//
//	func TestMyStore(t *testing.T) {
//		audittest.Run(t, func(t *testing.T) audit.Store { return newMyStore(t) })
//	}
//
// newStore must return a new, empty store each time it is called; the suite
// runs its cases in parallel and closes each store through its Logger.
//
// The naughty-strings case writes the suite's own hard strings (see
// HardStrings) through every string field, and also every string of the Big
// List of Naughty Strings when shared/testdata/blns.json is found in the
// working directory or its parents (or at $AUDIT_BLNS); see
// LoadNaughtyStrings. Nothing is skipped when the list is absent.
//
// The cases are grouped by area, a file each: writing (write.go), paging
// and filters (paging.go, filters.go), typeahead (search.go), tenants and views
// (tenants.go), the edges of queries (edges.go), hard strings (strings.go),
// All and Tail (stream.go), concurrency and closing (concurrency.go), the
// hash chain, checkpoints and tampering (chain.go), the caller's
// transactions (tx.go).
//
// A store's test reaches under the Logger through the hooks of Options
// (RunWith): raw SQL on the store's database, a transaction on it, a second
// store on it. A case whose hook is nil is skipped, saying which hook it
// needs. Every failure names the contract it breaks.
package audittest

import (
	"regexp"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// NewStore returns a new, empty store for one test.
type NewStore func(t *testing.T) audit.Store

// Options are the hooks through which the suite reaches under the Logger,
// into the database of a store that NewStore made. Each is optional: the
// cases that need a nil hook are skipped.
type Options struct {
	// Exec runs query, written with ? placeholders and bound to args (the
	// hook binds them as its store binds the same columns), on the
	// database of s as the owner of the audit tables, with every trigger
	// in place, and returns its error. The suite checks with it that the
	// database refuses to change or remove events.
	Exec func(t *testing.T, s audit.Store, query string, args ...any) error
	// Tamper runs query like Exec, but with the append-only triggers out of
	// the way (as a superuser can), and fails the test if it fails. The
	// suite changes and removes stored rows with it and checks that Verify
	// reports each change.
	Tamper func(t *testing.T, s audit.Store, query string, args ...any)
	// BeginTx begins a write transaction on the database of s, for
	// Logger.TrackTx; the suite commits or rolls it back. The store must
	// implement audit.TxStore.
	BeginTx func(t *testing.T, s audit.Store) *sqlx.Tx
	// Reopen returns a second store on the database of s, as another
	// process would open it; the suite closes it through its Logger.
	Reopen func(t *testing.T, s audit.Store) audit.Store
}

// Run runs the conformance suite against the stores newStore makes, with
// no hooks: the cases that need one are skipped.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	RunWith(t, newStore, Options{})
}

// RunWith runs the conformance suite against the stores newStore makes,
// reaching into their databases through the hooks of o.
func RunWith(t *testing.T, newStore NewStore, o Options) {
	t.Helper()
	for _, c := range []struct {
		name string
		fn   func(*testing.T, NewStore, Options)
	}{
		{"RoundTrip", plain(testRoundTrip)},
		{"Subjects", plain(testSubjects)},
		{"InvalidEvents", plain(testInvalidEvents)},
		{"Idempotency", plain(testIdempotency)},
		{"IdempotencyRace", plain(testIdempotencyRace)},
		{"Paging", plain(testPaging)},
		{"PagingWhileWriting", plain(testPagingWhileWriting)},
		{"Cursors", plain(testCursors)},
		{"Filters", plain(testFilters)},
		{"ReadModelFilters", plain(testReadModelFilters)},
		{"ForAccountTargets", plain(testForAccountTargets)},
		{"QueryShapesRefused", plain(testQueryShapesRefused)},
		{"PageNumbers", plain(testPageNumbers)},
		{"TimeEdges", plain(testTimeEdges)},
		{"TimeOrderError", plain(testTimeOrderError)},
		{"ForAccount", plain(testForAccount)},
		{"Search", plain(testSearch)},
		{"Actions", plain(testActions)},
		{"Suggest", plain(testSuggest)},
		{"SuggestCandidates", plain(testSuggestCandidates)},
		{"All", plain(testAll)},
		{"Tail", plain(testTail)},
		{"Tenants", plain(testTenants)},
		{"ViewsAreCapabilities", plain(testViewsAreCapabilities)},
		{"AllTenantsPages", plain(testAllTenantsPages)},
		{"AllTenantsReads", plain(testAllTenantsReads)},
		{"AllTenantsNaughty", plain(testAllTenantsNaughty)},
		{"Redaction", plain(testRedaction)},
		{"NaughtyStrings", plain(testNaughtyStrings)},
		{"ConcurrentWritersAndReaders", plain(testConcurrent)},
		{"Closed", plain(testClosed)},
		{"Head", testHead},
		{"ReadChain", testReadChain},
		{"VerifyAndCheckpoints", testVerifyAndCheckpoints},
		{"AppendOnly", testAppendOnly},
		{"TamperingIsReported", testTampering},
		{"TxCommit", testTxCommit},
		{"TxRollback", testTxRollback},
		{"TwoStoresOneDatabase", testTwoStores},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newStore, o)
		})
	}
}

// plain adapts a case that needs no hook.
func plain(fn func(*testing.T, NewStore)) func(*testing.T, NewStore, Options) {
	return func(t *testing.T, newStore NewStore, _ Options) { fn(t, newStore) }
}

// setup returns a Logger on a new store, closed when the test ends.
func setup(t *testing.T, newStore NewStore, opts ...audit.Option) *audit.Logger {
	t.Helper()
	l, _ := setupStore(t, newStore, opts...)
	return l
}

// setupStore returns a Logger on a new store, closed when the test ends,
// and the store.
func setupStore(t *testing.T, newStore NewStore, opts ...audit.Option) (*audit.Logger, audit.Store) {
	t.Helper()
	s := newStore(t)
	l, err := audit.New(s, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l, s
}

type user struct {
	ID    int64
	Name  string
	Email string
}

type BillingAccount struct {
	ID   string
	Name string
}

type named struct{ key string }

// Base is embedded by pointer; embedsNil{} reaches ID through nil.
type Base struct{ ID string }

type embedsNil struct{ *Base }

func (n named) AuditRef() audit.Ref { return audit.Ref{Type: "custom", ID: n.key, Name: "N"} }

// pointerNamed names itself with a pointer method.
type pointerNamed struct{ key string }

func (n *pointerNamed) AuditRef() audit.Ref { return audit.Ref{Type: "pointer", ID: n.key} }

// funcNamed is a Subject that can be nil without being a pointer.
type funcNamed func() audit.Ref

func (f funcNamed) AuditRef() audit.Ref { return f() }

// embedsNilNamed promotes named.AuditRef, a value method, through a
// pointer: embedsNilNamed{} calls it through nil.
type embedsNilNamed struct{ *named }

var urlSafe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func total(t *testing.T, l *audit.Logger) int {
	t.Helper()
	p, err := l.Recent(t.Context(), audit.Query{PerPage: 1})
	require.NoError(t, err)
	return p.TotalCount
}

// all walks every page of q and returns the entries.
func all(t *testing.T, l *audit.Logger, q audit.Query) []audit.Event {
	t.Helper()
	var out []audit.Event
	for range 100000 {
		p, err := l.Recent(t.Context(), q)
		require.NoError(t, err)
		out = append(out, p.Entries...)
		if p.Next == "" {
			return out
		}
		q.After = p.Next
	}
	t.Fatal("paging did not end")
	return nil
}

// sameEvent compares two events field by field, times to the nanosecond.
func sameEvent(t *testing.T, want, got audit.Event) {
	t.Helper()
	require.Equal(t, want.ID, got.ID)
	require.Equal(t, want.Seq, got.Seq)
	require.Equal(t, want.Tenant, got.Tenant)
	require.Equal(t, want.Action, got.Action)
	require.Equal(t, want.Actor, got.Actor)
	require.Equal(t, want.Resource, got.Resource)
	require.Equal(t, want.Targets, got.Targets)
	require.Equal(t, want.Outcome, got.Outcome)
	require.Equal(t, want.Metadata, got.Metadata)
	require.Equal(t, want.IdempotencyKey, got.IdempotencyKey)
	require.True(t, want.OccurredAt.Equal(got.OccurredAt), "occurred_at %v != %v", want.OccurredAt, got.OccurredAt)
	require.True(t, want.RecordedAt.Equal(got.RecordedAt), "recorded_at %v != %v", want.RecordedAt, got.RecordedAt)
	require.Equal(t, want.Hash, got.Hash)
	require.Equal(t, want.PrevHash, got.PrevHash)
}
