package audittest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// collect runs a sequence to its end (or n events) and returns what it
// yielded; the first error stops it.
func collect(seq func(func(audit.Event, error) bool), n int) ([]audit.Event, error) {
	var out []audit.Event
	var err error
	seq(func(e audit.Event, e2 error) bool {
		if e2 != nil {
			err = e2
			return false
		}
		out = append(out, e)
		return n <= 0 || len(out) < n
	})
	return out, err
}

// testAll: All yields exactly what paging by cursor yields, in the
// query's order, across chunks, from a page cursor when given; breaking out
// stops it.
func testAll(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	written := readModelLog(t, l)
	for i := range 1100 { // more than two chunks
		_, err := l.Track(ctx, nil, "bulk.event", nil, audit.WithMeta("i", i))
		require.NoError(t, err)
	}
	for _, v := range []*audit.Logger{l, l.WithTenant("acme"), l.AllTenants()} {
		for _, q := range []audit.Query{{}, {Order: audit.OldestFirst}, {Subject: "acct_2"}, {Action: "bulk.event", Order: audit.OldestFirst},
			{Outcome: audit.OutcomeFailure}, {FromSeq: 5, ToSeq: 1000}, {Search: "invoice"}} {
			q.PerPage = 1000
			got, err := collect(v.All(ctx, q), 0)
			require.NoError(t, err)
			require.Equal(t, seqs(all(t, v, q)), seqs(got), "%+v", q)
		}
	}
	// A page cursor starts it where the page ended.
	p, err := l.Recent(ctx, audit.Query{PerPage: 10, Order: audit.OldestFirst})
	require.NoError(t, err)
	rest, err := collect(l.All(ctx, audit.Query{PerPage: 10, Order: audit.OldestFirst, After: p.Next}), 0)
	require.NoError(t, err)
	every := seqs(all(t, l, audit.Query{PerPage: 1000, Order: audit.OldestFirst}))
	require.Equal(t, every[10:], seqs(rest))
	// Breaking out stops it.
	got, err := collect(l.All(ctx, audit.Query{}), 3)
	require.NoError(t, err)
	require.Len(t, got, 3)
	// Bad queries and a closed logger are errors, yielded once.
	_, err = collect(l.All(ctx, audit.Query{Outcome: "x"}), 0)
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
	_, err = collect(l.All(ctx, audit.Query{After: "bad"}), 0)
	require.ErrorIs(t, err, audit.ErrInvalidCursor)
	_ = written
}

// testTail: Tail yields what was there after since, then every event as
// it is committed by many concurrent writers, oldest first, never skipping
// or repeating one; a filter narrows it; the end of ctx ends it.
func testTail(t *testing.T, newStore NewStore) {
	l := setup(t, newStore, audit.WithTailPoll(20*time.Millisecond))
	ctx := t.Context()
	for i := range 30 {
		_, err := l.Track(ctx, nil, []string{"old.event", "old.other"}[i%2], nil)
		require.NoError(t, err)
	}
	const writers, each = 8, 60
	type result struct {
		events []audit.Event
		err    error
	}
	tail := func(since int64, q audit.Query, n int) <-chan result {
		out := make(chan result, 1)
		tctx, cancel := context.WithTimeout(ctx, time.Minute)
		go func() {
			defer cancel()
			got, err := collect(l.Tail(tctx, since, q), n)
			out <- result{got, err}
		}()
		return out
	}
	// The default tenant's view: the old events after seq 10, and the new
	// ones of the writers that write into it (half of them).
	everything := tail(10, audit.Query{}, 20+writers*each/2)
	news := tail(0, audit.Query{Action: "new.event"}, writers*each/4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				action := []string{"new.event", "new.other"}[i%2]
				if _, err := l.WithTenant([]string{"", "acme"}[w%2]).Track(ctx, audit.Ref{ID: fmt.Sprint(w)}, action, nil); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)

	r := <-everything
	require.NoError(t, r.err)
	var want []int64
	for _, e := range all(t, l, audit.Query{Order: audit.OldestFirst, PerPage: 1000}) {
		if e.Seq > 10 {
			want = append(want, e.Seq)
		}
	}
	require.Equal(t, want, seqs(r.events), "every event after since, in order, none skipped or repeated")
	r = <-news
	require.NoError(t, r.err)
	require.Len(t, r.events, writers*each/4, "the default tenant's new.event only") // half the writers, half their events
	for i, e := range r.events {
		require.Equal(t, "new.event", e.Action)
		if i > 0 {
			require.Greater(t, e.Seq, r.events[i-1].Seq)
		}
	}

	// The end of ctx ends a tail that waits, without an error.
	tctx, cancel := context.WithCancel(ctx)
	done := make(chan result, 1)
	go func() {
		got, err := collect(l.Tail(tctx, 1<<40, audit.Query{}), 0)
		done <- result{got, err}
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case r := <-done:
		require.NoError(t, r.err)
		require.Empty(t, r.events)
	case <-time.After(10 * time.Second):
		t.Fatal("Tail did not end with its context")
	}
}
