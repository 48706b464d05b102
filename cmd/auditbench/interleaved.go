package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/trailkit/audit"
)

// interleavedResult is the growth comparison: the same query shapes on two
// logs of different sizes, open side by side and timed in alternation in
// one loop, so that whatever else the machine does falls on both sizes
// alike.
type interleavedResult struct {
	Small, Large int64
	SeedDur      time.Duration // seeding both logs, the copy included
	Latencies    [2]map[string]latency
}

// interleavedShapes are the shapes compared across the two sizes (page
// 1,000 needs a log of more than 50,000 rows and is measured in the main
// loop).
func interleavedShape(key string) bool { return key != qCursor1000 && key != qOffset1000 }

// runInterleaved seeds a log to the smaller size, copies it (Backup), grows
// the original to the larger size, opens both and times every shape at
// both sizes in alternation: small recent, large recent, small for
// account, large for account, ..., round after round.
func runInterleaved(ctx context.Context, dir string, cfg config) (*interleavedResult, error) {
	res := &interleavedResult{Small: cfg.Interleaved[0], Large: cfg.Interleaved[1]}
	largePath := filepath.Join(dir, "grow-large.db")
	smallPath := filepath.Join(dir, "grow-small.db")
	large, err := labeled(ctx, "seed", func(ctx context.Context) (*audit.Logger, error) {
		return audit.Open(ctx, largePath, audit.WithMaxBatch(cfg.SeedBatch))
	})
	if err != nil {
		return nil, err
	}
	defer large.Close()
	logf("interleaved sizes: seeding %s rows, copying them, growing the original to %s", human(res.Small), human(res.Large))
	start := time.Now()
	if _, err := labeled(ctx, "seed", func(ctx context.Context) (time.Duration, error) {
		return seed(ctx, large, 0, res.Small, cfg.SeedWorkers)
	}); err != nil {
		return nil, err
	}
	if err := large.Backup(ctx, smallPath); err != nil {
		return nil, fmt.Errorf("copy the %s-row log: %w", human(res.Small), err)
	}
	if _, err := labeled(ctx, "seed", func(ctx context.Context) (time.Duration, error) {
		return seed(ctx, large, res.Small, res.Large, cfg.SeedWorkers)
	}); err != nil {
		return nil, err
	}
	res.SeedDur = time.Since(start)
	if err := syncFiles(largePath, largePath+"-wal", smallPath); err != nil {
		return nil, err
	}
	logf("  seeded in %.1fs", res.SeedDur.Seconds())
	small, err := audit.Open(ctx, smallPath)
	if err != nil {
		return nil, fmt.Errorf("open the copy: %w", err)
	}
	defer small.Close()

	var lists [2][]*timedShape
	var keys queryKeys
	for i, x := range []struct {
		l    *audit.Logger
		path string
		size int64
	}{{small, smallPath, res.Small}, {large, largePath, res.Large}} {
		ro, err := openReadOnly(x.path)
		if err != nil {
			return nil, err
		}
		defer ro.Close()
		plain, err := openPlainReader(ctx, x.path)
		if err != nil {
			return nil, err
		}
		defer plain.Close()
		if i == 0 {
			if keys, err = pickKeys(ctx, ro); err != nil {
				return nil, err
			}
		}
		if lists[i], err = queryShapes(ctx, x.l, ro, plain, x.size, keys, cfg.Reps, false); err != nil {
			return nil, fmt.Errorf("queries at %d rows: %w", x.size, err)
		}
	}
	var list []*timedShape
	for i := range lists[0] {
		if interleavedShape(lists[0][i].Key) {
			list = append(list, lists[0][i], lists[1][i])
		}
	}
	logf("queries at %s and %s rows, interleaved (%d repetitions each)", human(res.Small), human(res.Large), cfg.Reps)
	if _, err := labeled(ctx, "queries-interleaved", func(context.Context) (struct{}, error) {
		return struct{}{}, measureInterleaved(list)
	}); err != nil {
		return nil, err
	}
	for i := range res.Latencies {
		res.Latencies[i] = map[string]latency{}
		for _, t := range lists[i] {
			if t.d != nil {
				res.Latencies[i][t.Key] = summarize(t.d)
			}
		}
	}
	for _, t := range lists[0] {
		a, okA := res.Latencies[0][t.Key]
		b, okB := res.Latencies[1][t.Key]
		if okA && okB {
			logf("  %-50s median %6.0f → %6.0f µs (%.2f)", t.Name, us(a.Median), us(b.Median), float64(b.Median)/float64(a.Median))
		}
	}
	return res, nil
}

func (il *interleavedResult) table() table {
	t := table{
		Title: fmt.Sprintf("Queries at %s and %s rows, interleaved (µs)", human(il.Small), human(il.Large)),
		Header: []string{"query", human(il.Small) + " median", human(il.Small) + " p99", human(il.Large) + " median", human(il.Large) + " p99",
			human(il.Large) + "/" + human(il.Small) + " (median)"},
		Note: fmt.Sprintf("Two logs open side by side: the %s-row log is a copy (Backup) of the other when it had %s rows, which then grew to %s "+
			"(%.1f s to seed both). Every shape is called at one size, then at the other, then the next shape, round after round "+
			"(10 warm-up rounds, then the timed ones), so that the two sizes share whatever else the machine does. "+
			"Page 1,000 needs more than 50,000 rows and is only in the main loop.",
			human(il.Small), human(il.Small), human(il.Large), il.SeedDur.Seconds()),
	}
	for _, sh := range shapes {
		a, okA := il.Latencies[0][sh.Key]
		b, okB := il.Latencies[1][sh.Key]
		if !okA || !okB {
			continue
		}
		t.Rows = append(t.Rows, []string{sh.Name, fmtUS(a.Median), fmtUS(a.P99), fmtUS(b.Median), fmtUS(b.P99),
			fmtRatio(float64(b.Median) / float64(a.Median))})
	}
	return t
}
