package audittest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// txSetup returns a Logger on a new store that writes in transactions, and
// the store, or skips.
func txSetup(t *testing.T, newStore NewStore, o Options) (*audit.Logger, audit.Store) {
	t.Helper()
	if o.BeginTx == nil {
		t.Skip("needs Options.BeginTx")
	}
	l, s := setupStore(t, newStore)
	if _, ok := s.(audit.TxStore); !ok {
		t.Skip("the store is not an audit.TxStore")
	}
	return l, s
}

func testTxCommit(t *testing.T, newStore NewStore, o Options) {
	l, s := txSetup(t, newStore, o)
	ctx := t.Context()
	first, err := l.Track(ctx, nil, "tx.before", nil)
	require.NoError(t, err)
	tx := o.BeginTx(t, s)
	e, err := l.WithTenant("t").TrackTx(ctx, tx, user{ID: 1}, "tx.inside", BillingAccount{ID: "a"}, audit.WithMeta("k", "v"))
	require.NoError(t, err)
	require.Equal(t, first.Seq+1, e.Seq, "TxStore.AppendTx: the next Seq, inside the transaction")
	require.NoError(t, tx.Commit())
	got, err := l.WithTenant("t").Get(ctx, e.ID)
	require.NoError(t, err, "TxStore.AppendTx: the event is there once the caller commits")
	sameEvent(t, e, got)
	next, err := l.Track(ctx, nil, "tx.after", nil)
	require.NoError(t, err)
	require.Equal(t, e.Seq+1, next.Seq, "TxStore.AppendTx: the log goes on after a committed transaction")
	p, err := l.WithTenant("t").Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 1, p.TotalCount, "TxStore.AppendTx: counts the event with the caller's commit")
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "TxStore.AppendTx: the chain verifies: %+v", rep)
	require.Equal(t, int64(3), rep.Checked)
}

func testTxRollback(t *testing.T, newStore NewStore, o Options) {
	l, s := txSetup(t, newStore, o)
	ctx := t.Context()
	_, err := l.Track(ctx, nil, "tx.before", nil)
	require.NoError(t, err)
	tx := o.BeginTx(t, s)
	e, err := l.TrackTx(ctx, tx, nil, "tx.rolled_back", nil)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	_, err = l.Get(ctx, e.ID)
	require.ErrorIs(t, err, audit.ErrNotFound, "TxStore.AppendTx: nothing remains of a rolled-back transaction")
	next, err := l.Track(ctx, nil, "tx.after", nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), next.Seq, "TxStore.AppendTx: a rolled-back transaction leaves no gap in Seq")
	p, err := l.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 2, p.TotalCount, "TxStore.AppendTx: a rolled-back transaction counts nothing")
	acts, err := l.Actions(ctx, "tx.rolled", 0)
	require.NoError(t, err)
	require.Empty(t, acts, "TxStore.AppendTx: a rolled-back transaction leaves nothing in the catalogue")
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "TxStore.AppendTx: the chain verifies after a rollback: %+v", rep)
}
