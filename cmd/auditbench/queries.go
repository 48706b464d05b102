package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trailkit/audit"
)

// Query shapes, in the order they are reported.
const (
	qRecent      = "recent"
	qPlain       = "plain"
	qPlainText   = "plain_text"
	qForAccount  = "for_account"
	qActor       = "actor"
	qAction      = "action"
	qSearch      = "search"
	qActions     = "actions"
	qSuggest     = "suggest"
	qGet         = "get"
	qCursor1000  = "cursor1000"
	qOffset1000  = "offset1000"
	perPage      = audit.DefaultPerPage
	cursorTarget = 1000 // the page reached by cursor
)

type shapeInfo struct {
	Key, Name string
	// Flat: the 1M/100k ratio of its median has a target.
	Flat bool
}

var shapes = []shapeInfo{
	{qRecent, "Recent page 1, exact total", true},
	{qPlain, "Plain SELECT * of the newest 50 (prepared), the page's baseline", false},
	{qPlainText, "Plain SELECT * of the newest 50 (unprepared text), for contrast", false},
	{qForAccount, "ForAccount page 1", true},
	{qActor, "Recent, actor filter", true},
	{qAction, "Recent, action filter", true},
	{qSearch, "Search (typeahead, 5 entries + total)", true},
	{qActions, "Actions (prefix, limit 10)", true},
	{qSuggest, "Suggest (a keystroke, limit 10)", true},
	{qGet, "Get by id", false},
	{qCursor1000, "Recent page 1,000 by cursor", false},
	{qOffset1000, "Recent page 1,000 by Page (OFFSET), for contrast", false},
}

// latency summarizes the timings of one query shape.
type latency struct {
	N           int
	Median, P99 time.Duration
}

// queryKeys are the filter values the queries cycle through, picked once
// at the smallest size among the keys with more than a page of events, so
// that every filtered page is full at every size.
type queryKeys struct {
	Accounts, Actors, Actions []string
	SearchTerms, Prefixes     []string
	SuggestTerms              []string
}

// pickKeys picks up to 16 keys of each kind, spread over the ranks from
// the most to the least frequent of those with more than a page of events.
func pickKeys(ctx context.Context, db *sqlx.DB) (queryKeys, error) {
	k := queryKeys{
		SearchTerms: []string{"inv", "billing.sub", "login", "deleted", "user.m", "doc", "release", "ticket"},
		Prefixes:    []string{"b", "bil", "billing.", "user.", "pro", "d", "api", "sto"},
		// Keystrokes of a search box: actions, actor and account IDs and
		// names, from one letter (thousands of matches) to many.
		SuggestTerms: []string{"u", "us", "usr_00", "user 12", "acct_0", "account 7", "acc", "prj_01", "inv", "b"},
	}
	for _, x := range []struct {
		dst *[]string
		col string
	}{{&k.Accounts, "resource_id"}, {&k.Actors, "actor_id"}, {&k.Actions, "action"}} {
		var all []string
		err := db.SelectContext(ctx, &all, db.Rebind(`SELECT `+x.col+` FROM audit_events WHERE tenant = '' AND `+x.col+` <> ''
			GROUP BY `+x.col+` HAVING count(*) > ? ORDER BY count(*) DESC, `+x.col), perPage+1)
		if err != nil {
			return k, fmt.Errorf("pick query keys: %w", err)
		}
		if len(all) == 0 {
			return k, fmt.Errorf("pick query keys: no %s has more than %d events; seed more rows", x.col, perPage)
		}
		*x.dst = spread(all, 16)
	}
	return k, nil
}

func spread(all []string, n int) []string {
	if len(all) <= n {
		return all
	}
	out := make([]string, n)
	for i := range out {
		out[i] = all[i*(len(all)-1)/(n-1)]
	}
	return out
}

// sampleIDs returns the ids of n events at random positions of a log of
// size rows.
func sampleIDs(ctx context.Context, db *sqlx.DB, size int64, n int) ([]string, error) {
	r := rand.New(rand.NewPCG(uint64(size), 7))
	ids := make([]string, 0, n)
	for range n {
		var id string
		if err := db.GetContext(ctx, &id, db.Rebind(`SELECT id FROM audit_events WHERE seq = ?`), 1+r.Int64N(size)); err != nil {
			return nil, fmt.Errorf("sample ids: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// summarize returns the median and the 99th percentile of d.
func summarize(d []time.Duration) latency {
	d = slices.Clone(d)
	slices.Sort(d)
	med := d[len(d)/2]
	if len(d)%2 == 0 {
		med = (d[len(d)/2-1] + d[len(d)/2]) / 2
	}
	p99 := d[max(0, (len(d)*99+99)/100-1)]
	return latency{N: len(d), Median: med, P99: p99}
}

// timedShape is a query shape being measured.
type timedShape struct {
	shapeInfo
	reps int
	fn   func(i int) error
	d    []time.Duration
}

// measureInterleaved calls every shape in turn, round after round, so that
// whatever else the machine does (GC, write-back, a noisy neighbour) falls
// on all shapes alike: 10 rounds to warm up, then each shape's reps timed
// calls.
func measureInterleaved(list []*timedShape) error {
	rounds := 0
	for _, t := range list {
		rounds = max(rounds, t.reps)
	}
	for i := range 10 {
		for _, t := range list {
			if err := t.fn(i); err != nil {
				return err
			}
		}
	}
	runtime.GC()
	for i := range rounds {
		for _, t := range list {
			if i >= t.reps {
				continue
			}
			start := time.Now()
			if err := t.fn(i); err != nil {
				return err
			}
			t.d = append(t.d, time.Since(start))
		}
	}
	return nil
}

// runQueries measures every query shape on a log of size rows, with the
// plain SELECT of the newest rows (plain) in the same loop.
func runQueries(ctx context.Context, l *audit.Logger, ro *sqlx.DB, plain *plainReader, size int64, keys queryKeys, reps int) (map[string]latency, error) {
	list, err := queryShapes(ctx, l, ro, plain, size, keys, reps, true)
	if err != nil {
		return nil, err
	}
	if err := measureInterleaved(list); err != nil {
		return nil, err
	}
	out := map[string]latency{}
	for _, t := range list {
		lat := summarize(t.d)
		out[t.Key] = lat
		logf("  %-50s median %8.0f µs  p99 %8.0f µs", t.Name, us(lat.Median), us(lat.P99))
	}
	return out, nil
}

// queryShapes returns the shapes to time on a log of size rows; deep
// (page 1,000 by cursor and by OFFSET) only where the log has a page 1,000
// and deep is set.
func queryShapes(ctx context.Context, l *audit.Logger, ro *sqlx.DB, plain *plainReader, size int64, keys queryKeys, reps int, deep bool) ([]*timedShape, error) {
	ids, err := sampleIDs(ctx, ro, size, 256)
	if err != nil {
		return nil, err
	}
	full := func(p audit.Page, err error, what string) error {
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", what, err)
		case len(p.Entries) != p.PerPage:
			return fmt.Errorf("%s: %d entries, want a full page of %d", what, len(p.Entries), p.PerPage)
		case p.TotalCount <= p.PerPage:
			return fmt.Errorf("%s: total %d", what, p.TotalCount)
		}
		return nil
	}
	// The cursor of page 1,000, reached by walking 999 pages.
	var cursor string
	if deep && size > cursorTarget*perPage {
		q := audit.Query{}
		for range cursorTarget - 1 {
			p, err := l.Recent(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("walk to page %d: %w", cursorTarget, err)
			}
			q.After = p.Next
		}
		cursor = q.After
	}
	runs := map[string]func(i int) error{
		qRecent: func(int) error {
			p, err := l.Recent(ctx, audit.Query{})
			if err == nil && int64(p.TotalCount) != size {
				return fmt.Errorf("recent: total %d, want %d", p.TotalCount, size)
			}
			return full(p, err, "recent")
		},
		qPlain: func(int) error {
			return plain.newest(ctx, true)
		},
		qPlainText: func(int) error {
			return plain.newest(ctx, false)
		},
		qForAccount: func(i int) error {
			p, err := l.ForAccount(ctx, keys.Accounts[i%len(keys.Accounts)], audit.Query{})
			return full(p, err, "for account")
		},
		qActor: func(i int) error {
			p, err := l.Recent(ctx, audit.Query{ActorID: keys.Actors[i%len(keys.Actors)]})
			return full(p, err, "actor filter")
		},
		qAction: func(i int) error {
			p, err := l.Recent(ctx, audit.Query{Action: keys.Actions[i%len(keys.Actions)]})
			return full(p, err, "action filter")
		},
		qSearch: func(i int) error {
			p, err := l.Search(ctx, keys.SearchTerms[i%len(keys.SearchTerms)], audit.Query{})
			return full(p, err, "search "+keys.SearchTerms[i%len(keys.SearchTerms)])
		},
		qActions: func(i int) error {
			a, err := l.Actions(ctx, keys.Prefixes[i%len(keys.Prefixes)], 10)
			if err == nil && len(a) == 0 {
				err = fmt.Errorf("no actions for %q", keys.Prefixes[i%len(keys.Prefixes)])
			}
			return err
		},
		qSuggest: func(i int) error {
			term := keys.SuggestTerms[i%len(keys.SuggestTerms)]
			found, err := l.Suggest(ctx, term, 10)
			if err == nil && len(found) == 0 {
				err = fmt.Errorf("no suggestions for %q", term)
			}
			return err
		},
		qGet: func(i int) error {
			id := ids[i%len(ids)]
			e, err := l.Get(ctx, id)
			if err == nil && e.ID != id {
				err = fmt.Errorf("get %s returned %s", id, e.ID)
			}
			return err
		},
		qCursor1000: func(int) error {
			p, err := l.Recent(ctx, audit.Query{After: cursor})
			if err == nil && p.Page != cursorTarget {
				return fmt.Errorf("cursor: page %d, want %d", p.Page, cursorTarget)
			}
			return full(p, err, "page 1,000 by cursor")
		},
		qOffset1000: func(int) error {
			p, err := l.Recent(ctx, audit.Query{Page: cursorTarget})
			return full(p, err, "page 1,000 by offset")
		},
	}
	var list []*timedShape
	for _, s := range shapes {
		n := reps
		switch {
		case (s.Key == qCursor1000 || s.Key == qOffset1000) && cursor == "":
			continue // the log has no page 1,000, or deep pages were not asked for
		case (s.Key == qPlain || s.Key == qPlainText) && plain == nil:
			continue // no plain reader (PostgreSQL)
		case s.Key == qOffset1000:
			n = max(5, reps/10) // slow by design; a few tell the story
		}
		list = append(list, &timedShape{shapeInfo: s, reps: n, fn: runs[s.Key]})
	}
	return list, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
