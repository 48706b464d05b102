package audittest

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// testPageNumbers asks for page numbers up to math.MaxInt: each is either
// refused with ErrInvalidQuery or answered as that page (past the end of a
// short log, so empty), and a page that has a Next is continued by it.
func testPageNumbers(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	seed(t, l, 5)
	for _, per := range []int{1, 2, 3, 50, audit.MaxPerPage} {
		for _, page := range []int{
			2, 6, 1 << 20, 1 << 30, 1<<40 - 1, 1 << 40, 1<<40 + 1, 1 << 41,
			math.MaxInt / per, math.MaxInt/per + 1, math.MaxInt/per + 2, 1 << 62, math.MaxInt - 1, math.MaxInt,
		} {
			q := audit.Query{Page: page, PerPage: per}
			p, err := l.Recent(ctx, q)
			if err != nil {
				require.ErrorIs(t, err, audit.ErrInvalidQuery, "%+v", q)
				continue
			}
			require.Equal(t, page, p.Page, "%+v", q)
			require.Equal(t, 5, p.TotalCount, "%+v", q)
			if page-1 >= (5+per-1)/per { // past the end
				require.Empty(t, p.Entries, "%+v", q)
			} else {
				require.Len(t, p.Entries, min(per, 5-(page-1)*per), "%+v", q)
			}
			if p.Next != "" {
				next, err := l.Recent(ctx, audit.Query{PerPage: per, After: p.Next})
				require.NoError(t, err, "the Next of %+v", q)
				require.Equal(t, page+1, next.Page)
			}
		}
	}
	// The largest page numbers of any size are refused.
	for _, per := range []int{1, 50} {
		_, err := l.Recent(ctx, audit.Query{Page: math.MaxInt, PerPage: per})
		require.ErrorIs(t, err, audit.ErrInvalidQuery)
	}
}

// testTimeEdges records events at the earliest and the latest time Record
// accepts and checks that Since (inclusive) and Until (exclusive) keep
// their meaning beyond that range: a bound past the latest time, or before
// the earliest, is never moved onto an event.
func testTimeEdges(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	ctx := t.Context()
	earliest, latest := time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)
	mid := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var first, middle, last audit.Event
	for _, x := range []struct {
		at  time.Time
		dst *audit.Event
	}{{earliest, &first}, {mid, &middle}, {latest, &last}} {
		e, err := l.Record(ctx, audit.Event{Action: "time.edge", OccurredAt: x.at})
		require.NoError(t, err)
		require.True(t, x.at.Equal(e.OccurredAt), "%v stored as %v", x.at, e.OccurredAt)
		*x.dst = e
	}
	year1 := time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC) // not the zero time
	year9999 := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name         string
		since, until time.Time
		want         []audit.Event // newest first
	}{
		{"since after the latest", latest.Add(time.Nanosecond), time.Time{}, nil},
		{"unbounded", time.Time{}, time.Time{}, []audit.Event{last, middle, first}},
		{"until after the latest", time.Time{}, latest.Add(time.Nanosecond), []audit.Event{last, middle, first}},
		{"until in year 9999", time.Time{}, year9999, []audit.Event{last, middle, first}},
		{"until the latest (exclusive)", time.Time{}, latest, []audit.Event{middle, first}},
		{"since the latest", latest, time.Time{}, []audit.Event{last}},
		{"since after the latest", latest.Add(time.Nanosecond), time.Time{}, nil},
		{"since in year 9999", year9999, time.Time{}, nil},
		{"since and until after the latest", year9999, year9999.Add(time.Hour), nil},
		{"since the earliest", earliest, time.Time{}, []audit.Event{last, middle, first}},
		{"since before the earliest", earliest.Add(-time.Hour), time.Time{}, []audit.Event{last, middle, first}},
		{"since in year 1", year1, time.Time{}, []audit.Event{last, middle, first}},
		{"until the earliest (exclusive)", time.Time{}, earliest, nil},
		{"until just after the earliest", time.Time{}, earliest.Add(time.Nanosecond), []audit.Event{first}},
		{"until in year 1", time.Time{}, year1, nil},
		{"since and until before the earliest", year1, earliest.Add(-time.Hour), nil},
		{"the whole range", earliest, latest.Add(time.Nanosecond), []audit.Event{last, middle, first}},
		{"beyond both ends", year1, year9999, []audit.Event{last, middle, first}},
		{"the middle", mid, mid.Add(time.Nanosecond), []audit.Event{middle}},
	} {
		for _, q := range []audit.Query{
			{Since: c.since, Until: c.until, PerPage: 10},
			{Since: c.since, Until: c.until, PerPage: 10, Action: "time.edge"},
			{Since: c.since, Until: c.until, PerPage: 10, Search: "time"},
		} {
			p, err := l.Recent(ctx, q)
			require.NoError(t, err, c.name)
			require.Equal(t, seqs(c.want), seqs(p.Entries), c.name)
			require.Equal(t, len(c.want), p.TotalCount, c.name)
		}
	}
}

// testTimeOrderError checks that Since after Until is refused with an
// error that shows both times cleanly: UTC, RFC 3339 with nanoseconds, no
// monotonic clock reading.
func testTimeOrderError(t *testing.T, newStore NewStore) {
	l := setup(t, newStore)
	since := time.Now() // carries a monotonic clock reading
	until := since.Add(-time.Hour)
	_, err := l.Recent(t.Context(), audit.Query{Since: since, Until: until})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
	msg := err.Error()
	require.NotContains(t, msg, "m=")
	require.Contains(t, msg, since.UTC().Format(time.RFC3339Nano))
	require.Contains(t, msg, until.UTC().Format(time.RFC3339Nano))
	require.Equal(t, 1, strings.Count(msg, "audit:"), msg)
}
