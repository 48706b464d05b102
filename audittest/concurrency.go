package audittest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/trailkit/audit"
)

func testConcurrent(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	const writers, each = 16, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]int64{}
	stop := make(chan struct{})
	// Goroutines record their first error; the test goroutine checks them.
	readErrs := make([]error, 4)
	for r := range readErrs {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				p, err := l.Recent(ctx, audit.Query{PerPage: 10, ActorID: fmt.Sprint(r)})
				if err == nil && len(p.Entries) > p.TotalCount {
					err = fmt.Errorf("%d entries but a total of %d", len(p.Entries), p.TotalCount)
				}
				if err == nil {
					_, err = l.Search(ctx, "con", audit.Query{})
				}
				if err != nil {
					readErrs[r] = err
					return
				}
			}
		})
	}
	stopReaders := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopReaders() // also when a check below fails
	var writing sync.WaitGroup
	writeErrs := make([]error, writers)
	for w := range writers {
		writing.Go(func() {
			for i := range each {
				e, err := l.Track(ctx, user{ID: int64(w % 4)}, "concurrent.write", BillingAccount{ID: fmt.Sprint(i % 3)})
				if err != nil {
					writeErrs[w] = err
					return
				}
				mu.Lock()
				ids[e.ID] = e.Seq
				mu.Unlock()
			}
		})
	}
	writing.Wait()
	stopReaders()
	for w, err := range writeErrs {
		require.NoError(t, err, "writer %d", w)
	}
	for r, err := range readErrs {
		require.NoError(t, err, "reader %d", r)
	}
	require.Len(t, ids, writers*each)
	var got []int64
	for _, s := range ids {
		got = append(got, s)
	}
	slices.Sort(got)
	for i, s := range got {
		require.Equal(t, int64(i+1), s, "seq is gapless")
	}
	events := all(t, l, audit.Query{PerPage: 100})
	require.Len(t, events, writers*each)
	for _, e := range events {
		require.Equal(t, ids[e.ID], e.Seq)
	}
	p, err := l.Recent(ctx, audit.Query{ActorID: "1"})
	require.NoError(t, err)
	require.Equal(t, writers/4*each, p.TotalCount)
}

func testClosed(t *testing.T, newStore NewStore) {
	l, err := audit.New(newStore(t))
	require.NoError(t, err)
	ctx := t.Context()
	e, err := l.Track(ctx, nil, "before.close", nil)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")
	_, err = l.Track(ctx, nil, "after.close", nil)
	require.ErrorIs(t, err, audit.ErrClosed)
	_, err = l.WithTenant("x").Record(ctx, audit.Event{Action: "after.close"})
	require.ErrorIs(t, err, audit.ErrClosed)
	_, err = l.Recent(ctx, audit.Query{})
	require.ErrorIs(t, err, audit.ErrClosed)
	_, err = l.Get(ctx, e.ID)
	require.ErrorIs(t, err, audit.ErrClosed)
	_, err = l.Actions(ctx, "", 0)
	require.ErrorIs(t, err, audit.ErrClosed)
	_, err = l.Search(ctx, "b", audit.Query{})
	require.ErrorIs(t, err, audit.ErrClosed)
}

// testTwoStores runs two Loggers on two stores of one database, as two
// processes would, writing at once: every event gets its own Seq, the Seqs
// of both are gapless together, both see every event, and the chain
// verifies.
func testTwoStores(t *testing.T, newStore NewStore, o Options) {
	if o.Reopen == nil {
		t.Skip("needs Options.Reopen")
	}
	a, s := setupStore(t, newStore)
	b, err := audit.New(o.Reopen(t, s))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	ctx := t.Context()
	const writers, each = 8, 25
	var mu sync.Mutex
	seqs := map[int64]string{}
	errs := make([]error, 2*writers)
	var wg sync.WaitGroup
	for w := range 2 * writers {
		l := a
		if w%2 == 1 {
			l = b
		}
		wg.Go(func() {
			for i := range each {
				e, err := l.Track(ctx, user{ID: int64(w)}, "two.stores", BillingAccount{ID: fmt.Sprint(i % 4)})
				if err != nil {
					errs[w] = err
					return
				}
				mu.Lock()
				if other, dup := seqs[e.Seq]; dup {
					errs[w] = fmt.Errorf("seq %d given to %s and %s", e.Seq, other, e.ID)
				}
				seqs[e.Seq] = e.ID
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		require.NoError(t, err, "two stores: writer %d (Store.Append serializes appends across stores of one database)", w)
	}
	require.Len(t, seqs, 2*writers*each, "two stores: every event has a Seq of its own")
	for seq := int64(1); seq <= 2*writers*each; seq++ {
		require.Contains(t, seqs, seq, "two stores: Seq is gapless across the stores")
	}
	for _, l := range []*audit.Logger{a, b} {
		require.Equal(t, 2*writers*each, total(t, l), "two stores: each counts the events of both")
		got, err := l.Get(ctx, seqs[1])
		require.NoError(t, err, "two stores: each reads the events of the other")
		require.Equal(t, int64(1), got.Seq)
		rep, err := l.Verify(ctx)
		require.NoError(t, err)
		require.True(t, rep.OK, "two stores: the chain is unbroken: %+v", rep)
		require.Equal(t, int64(2*writers*each), rep.Checked)
	}
}
