package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/trailkit/audit"
)

// memResult is a pass over the whole log: its rate and the heap it needed.
type memResult struct {
	Rows int64
	Dur  time.Duration
	// PeakHeap is the highest heap in use (live and not yet collected
	// objects, runtime.MemStats.HeapAlloc) seen during the pass, above
	// the heap before it, sampled every millisecond.
	PeakHeap uint64
	// AllocPerRow is the bytes allocated over the pass, per row.
	AllocPerRow float64
}

func (m memResult) Rate() float64 {
	if m.Dur <= 0 {
		return 0
	}
	return float64(m.Rows) / m.Dur.Seconds()
}

const (
	metricHeap   = "/memory/classes/heap/objects:bytes" // = MemStats.HeapAlloc
	metricAllocs = "/gc/heap/allocs:bytes"              // cumulative
)

func readMetrics(s []metrics.Sample) (heap, allocs uint64) {
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// measureMem runs pass, which returns how many rows it went through, with
// a goroutine tracking the peak heap.
func measureMem(pass func() (int64, error)) (memResult, error) {
	runtime.GC()
	s := []metrics.Sample{{Name: metricHeap}, {Name: metricAllocs}}
	base, allocs0 := readMetrics(s)
	peak := base
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: metricHeap}, {Name: metricAllocs}}
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if h, _ := readMetrics(s); h > peak {
				peak = h
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	rows, err := pass()
	dur := time.Since(start)
	close(stop)
	wg.Wait()
	h, allocs1 := readMetrics(s)
	peak = max(peak, h)
	if err != nil {
		return memResult{}, err
	}
	m := memResult{Rows: rows, Dur: dur, PeakHeap: peak - base}
	if rows > 0 {
		m.AllocPerRow = float64(allocs1-allocs0) / float64(rows)
	}
	return m, nil
}

// fullIteration reads every row of the log, newest first, with All (the
// iterator reads 500 at a time by keyset), keeping nothing.
func fullIteration(ctx context.Context, l *audit.Logger, size int64) (memResult, error) {
	return measureMem(func() (int64, error) {
		var n int64
		last := size + 1
		for e, err := range l.All(ctx, audit.Query{}) {
			if err != nil {
				return n, fmt.Errorf("full iteration after %d rows: %w", n, err)
			}
			if e.Seq != last-1 {
				return n, fmt.Errorf("full iteration: seq %d follows %d", e.Seq, last)
			}
			last = e.Seq
			n++
		}
		if n != size {
			return n, fmt.Errorf("full iteration read %d rows of %d", n, size)
		}
		return n, nil
	})
}

// fullExport writes the whole log as JSON Lines (Export, which streams a
// chunk at a time) to a discarding writer.
func fullExport(ctx context.Context, l *audit.Logger, size int64) (memResult, error) {
	return measureMem(func() (int64, error) {
		n, err := l.AllTenants().Export(ctx, io.Discard, audit.ExportJSONL, audit.Query{})
		if err == nil && n != size {
			err = fmt.Errorf("export wrote %d rows of %d", n, size)
		}
		return n, err
	})
}

// benchVerify measures Logger.Verify over the whole log of size rows: the
// rate (target: at least 500k rows/s) and the peak heap, which must not
// grow with the log.
func benchVerify(ctx context.Context, l *audit.Logger, size int64) (memResult, bool, error) {
	m, err := measureMem(func() (int64, error) {
		rep, err := l.Verify(ctx)
		switch {
		case err != nil:
			return 0, err
		case !rep.OK || rep.Checked != size:
			return 0, fmt.Errorf("verify: checked %d of %d, first bad %d: %s", rep.Checked, size, rep.FirstBad, rep.Reason)
		}
		return rep.Checked, nil
	})
	return m, true, err
}

// timeRecount measures the part of Verify that recounts the derived tables
// from the log (DerivedChecker.CheckDerived), on its own.
func timeRecount(ctx context.Context, dc audit.DerivedChecker) (time.Duration, error) {
	start := time.Now()
	problem, err := dc.CheckDerived(ctx)
	switch {
	case err != nil:
		return 0, err
	case problem != "":
		return 0, fmt.Errorf("recount: %s", problem)
	}
	return time.Since(start), nil
}
