package audittest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/trailkit/audit"
)

func seed(t *testing.T, l *audit.Logger, n int) []audit.Event {
	t.Helper()
	out := make([]audit.Event, n)
	for i := range n {
		e, err := l.Track(t.Context(), user{ID: int64(i % 3)}, fmt.Sprintf("item.%s", []string{"created", "updated", "deleted"}[i%3]),
			BillingAccount{ID: fmt.Sprintf("acct_%d", i%4)})
		require.NoError(t, err)
		out[i] = e
	}
	return out
}

func seqs(es []audit.Event) []int64 {
	var out []int64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func newestFirst(es []audit.Event) []int64 {
	s := seqs(es)
	slices.Reverse(s)
	return s
}

func testPaging(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	written := seed(t, l, 23)

	var walked []audit.Event
	q := audit.Query{PerPage: 5}
	for want := 1; ; want++ {
		p, err := l.Recent(ctx, q)
		require.NoError(t, err)
		require.Equal(t, want, p.Page)
		require.Equal(t, 5, p.PerPage)
		require.Equal(t, 23, p.TotalCount)
		require.Equal(t, 5, p.TotalPages)
		walked = append(walked, p.Entries...)
		// Page N by number (offset) is the same page.
		byNumber, err := l.Recent(ctx, audit.Query{PerPage: 5, Page: want})
		require.NoError(t, err)
		require.Equal(t, seqs(p.Entries), seqs(byNumber.Entries))
		require.Equal(t, want, byNumber.Page)
		if p.Next == "" {
			require.Equal(t, 5, want)
			require.Len(t, p.Entries, 3)
			break
		}
		require.Regexp(t, urlSafe, p.Next)
		q.After = p.Next
	}
	require.Equal(t, newestFirst(written), seqs(walked))

	// An exact multiple of the page size has no empty last page.
	p, err := l.Recent(ctx, audit.Query{PerPage: 23})
	require.NoError(t, err)
	require.Empty(t, p.Next)
	require.Equal(t, 1, p.TotalPages)

	// Past the end, and the defaults and limits.
	p, err = l.Recent(ctx, audit.Query{Page: 9, PerPage: 5})
	require.NoError(t, err)
	require.Empty(t, p.Entries)
	require.Equal(t, 23, p.TotalCount)
	p, err = l.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, audit.DefaultPerPage, p.PerPage)
	require.Equal(t, 1, p.Page)
	p, err = l.Recent(ctx, audit.Query{PerPage: 5000})
	require.NoError(t, err)
	require.Equal(t, audit.MaxPerPage, p.PerPage)
	_, err = l.Recent(ctx, audit.Query{PerPage: -1})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
	_, err = l.Recent(ctx, audit.Query{Page: -1})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)

	// An empty log has one empty page.
	empty := setup(t, newStore)
	p, err = empty.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.NotNil(t, p.Entries)
	require.Empty(t, p.Entries)
	require.Zero(t, p.TotalCount)
	require.Zero(t, p.TotalPages)
	require.Empty(t, p.Next)
}

func testPagingWhileWriting(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	written := seed(t, l, 60)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error // checked on the test goroutine once the writer is done
	stopWriter := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriter() // also when a check below fails
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, writeErr = l.Track(ctx, user{ID: 1}, "item.created", BillingAccount{ID: "acct_1"}); writeErr != nil {
				return
			}
		}
	})
	var walked []audit.Event
	q := audit.Query{PerPage: 7}
	for {
		p, err := l.Recent(ctx, q)
		require.NoError(t, err)
		walked = append(walked, p.Entries...)
		if p.Next == "" {
			break
		}
		q.After = p.Next
		time.Sleep(time.Millisecond)
	}
	stopWriter()
	require.NoError(t, writeErr)
	// The walk starts at the head it saw first and then never shifts: every
	// event written before it is seen exactly once, in order.
	seen := make(map[int64]bool)
	for i, e := range walked {
		require.False(t, seen[e.Seq], "seq %d seen twice", e.Seq)
		seen[e.Seq] = true
		if i > 0 {
			require.Less(t, e.Seq, walked[i-1].Seq)
		}
	}
	for _, e := range written {
		require.True(t, seen[e.Seq], "seq %d never seen", e.Seq)
	}
}

func testCursors(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	seed(t, l, 12)
	for _, tn := range []string{"a", "b"} {
		seed(t, l.WithTenant(tn), 12)
	}
	p, err := l.Recent(ctx, audit.Query{PerPage: 2, Action: "item.created"})
	require.NoError(t, err)
	require.NotEmpty(t, p.Next)

	// Bound to the query...
	for _, q := range []audit.Query{
		{PerPage: 2, After: p.Next},
		{PerPage: 2, After: p.Next, Action: "item.updated"},
		{PerPage: 3, After: p.Next, Action: "item.created"},
		{PerPage: 2, After: p.Next, Action: "item.created", ActorID: "1"},
		{PerPage: 2, After: p.Next, Action: "item.created", Since: time.Unix(1, 0)},
		{PerPage: 2, After: p.Next, Action: "item.created", Search: "item"},
	} {
		_, err := l.Recent(ctx, q)
		require.ErrorIs(t, err, audit.ErrInvalidCursor, "%+v", q)
	}
	// ... and to the tenant.
	pa, err := l.WithTenant("a").Recent(ctx, audit.Query{PerPage: 2})
	require.NoError(t, err)
	_, err = l.WithTenant("b").Recent(ctx, audit.Query{PerPage: 2, After: pa.Next})
	require.ErrorIs(t, err, audit.ErrInvalidCursor)
	_, err = l.Recent(ctx, audit.Query{PerPage: 2, After: pa.Next})
	require.ErrorIs(t, err, audit.ErrInvalidCursor)
	_, err = l.Search(ctx, "item", audit.Query{PerPage: 2, After: pa.Next})
	require.ErrorIs(t, err, audit.ErrInvalidCursor)

	// Malformed cursors.
	for _, c := range []string{"x", "!!!", "AAAA", strings.Repeat("A", 40), "\xff", p.Next + "A", p.Next[:len(p.Next)-2], "null", "' OR 1=1 --"} {
		_, err := l.Recent(ctx, audit.Query{PerPage: 2, Action: "item.created", After: c})
		require.ErrorIs(t, err, audit.ErrInvalidCursor, "%q", c)
	}
	// The right cursor works, on every read that pages.
	p2, err := l.Recent(ctx, audit.Query{PerPage: 2, Action: "item.created", After: p.Next})
	require.NoError(t, err)
	require.Equal(t, 2, p2.Page)
	s, err := l.Search(ctx, "it", audit.Query{})
	require.NoError(t, err)
	s2, err := l.Search(ctx, "it", audit.Query{After: s.Next})
	require.NoError(t, err)
	require.Less(t, s2.Entries[0].Seq, s.Entries[len(s.Entries)-1].Seq)
	f, err := l.ForAccount(ctx, "acct_1", audit.Query{PerPage: 1})
	require.NoError(t, err)
	f2, err := l.ForAccount(ctx, "acct_1", audit.Query{PerPage: 1, After: f.Next})
	require.NoError(t, err)
	require.Equal(t, 2, f2.Page)
	_, err = l.ForAccount(ctx, "acct_2", audit.Query{PerPage: 1, After: f.Next})
	require.ErrorIs(t, err, audit.ErrInvalidCursor)
}

// testFilters checks every filter and its total against a brute-force
// reading of what was written.
func testFilters(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var written []audit.Event
	for i := range 90 {
		e, err := l.Track(ctx, user{ID: int64(i % 5)}, []string{"doc.created", "doc.shared", "user.login"}[i%3],
			audit.Ref{Type: []string{"doc", "folder"}[i%2], ID: fmt.Sprintf("r%d", i%7)},
			audit.At(base.Add(time.Duration(i)*time.Hour)))
		require.NoError(t, err)
		written = append(written, e)
	}
	match := func(q audit.Query) []int64 {
		var out []int64
		for _, e := range written {
			if (q.Action == "" || e.Action == q.Action) &&
				(q.ActorID == "" || e.Actor.ID == q.ActorID) &&
				(q.ResourceType == "" || e.Resource.Type == q.ResourceType) &&
				(q.ResourceID == "" || e.Resource.ID == q.ResourceID) &&
				(q.Since.IsZero() || !e.OccurredAt.Before(q.Since)) &&
				(q.Until.IsZero() || e.OccurredAt.Before(q.Until)) &&
				(q.Search == "" || strings.HasPrefix(e.Action, q.Search) || strings.Contains(e.Action, "."+q.Search)) {
				out = append(out, e.Seq)
			}
		}
		slices.Reverse(out)
		return out
	}
	since, until := base.Add(20*time.Hour), base.Add(50*time.Hour)
	for _, q := range []audit.Query{
		{},
		{Action: "doc.shared"},
		{Action: "nope"},
		{ActorID: "3"},
		{ResourceType: "folder"},
		{ResourceID: "r4"},
		{ResourceType: "doc", ResourceID: "r4"},
		{Since: since},
		{Until: until},
		{Since: since, Until: until},
		{Since: until, Until: until},
		{Action: "user.login", ActorID: "2"},
		{Action: "doc.created", ResourceID: "r1", Since: since},
		{Search: "doc"},
		{Search: "shared"},
		{Search: "doc", ActorID: "1"},
		{Search: "doc", Action: "doc.shared"},
		{Search: "doc", Action: "user.login"},
		{Search: "log", Since: since, Until: until},
	} {
		q.PerPage = 4
		want := match(q)
		got := all(t, l, q)
		require.Equal(t, want, seqs(got), "%+v", q)
		p, err := l.Recent(ctx, q)
		require.NoError(t, err)
		require.Equal(t, len(want), p.TotalCount, "%+v", q)
		require.Equal(t, (len(want)+3)/4, p.TotalPages, "%+v", q)
	}
	_, err := l.Recent(ctx, audit.Query{Since: until, Until: since})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
	_, err = l.Recent(ctx, audit.Query{Action: "\xff"})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
}

func testForAccount(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	written := seed(t, l, 20)
	p, err := l.ForAccount(ctx, "acct_2", audit.Query{})
	require.NoError(t, err)
	var want []int64
	for _, e := range written {
		if e.Resource.ID == "acct_2" {
			want = append(want, e.Seq)
		}
	}
	slices.Reverse(want)
	require.Equal(t, want, seqs(p.Entries))
	require.Equal(t, len(want), p.TotalCount)
	p, err = l.ForAccount(ctx, "acct_2", audit.Query{Action: "item.created"})
	require.NoError(t, err)
	for _, e := range p.Entries {
		require.Equal(t, "item.created", e.Action)
		require.Equal(t, "acct_2", e.Resource.ID)
	}
	p, err = l.ForAccount(ctx, "nobody", audit.Query{})
	require.NoError(t, err)
	require.Empty(t, p.Entries)
	_, err = l.ForAccount(ctx, "", audit.Query{})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
}
