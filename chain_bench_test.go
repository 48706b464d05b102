package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailkit/audit"
)

// seedLog writes n events with many concurrent callers, so that group
// commit batches them.
func seedLog(b *testing.B, n int) *audit.Logger {
	b.Helper()
	l, err := audit.Open(context.Background(), filepath.Join(b.TempDir(), "audit.db"), audit.WithMaxBatch(2048))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	var wg sync.WaitGroup
	const workers = 256
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				_, err := l.Record(context.Background(), audit.Event{
					Action:   fmt.Sprintf("svc%d.thing.done%d", i%7, i%11),
					Actor:    audit.Ref{Type: "user", ID: fmt.Sprint(i % 1000), Name: "User"},
					Resource: audit.Ref{Type: "account", ID: fmt.Sprint(i % 10000)},
					Metadata: map[string]any{"i": i, "ip": "203.0.113.9", "note": "something happened"},
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return l
}

// BenchmarkVerify reports how many events per second Verify checks.
func BenchmarkVerify(b *testing.B) {
	const n = 20000
	l := seedLog(b, n)
	b.ResetTimer()
	for range b.N {
		rep, err := l.Verify(context.Background())
		if err != nil || !rep.OK || rep.Checked != n {
			b.Fatalf("%+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkVerifyLargeRows verifies a log whose every event carries 60 KiB
// of metadata and reports Verify's peak heap above the heap before it:
// Verify holds one row per worker, whatever the rows hold.
func BenchmarkVerifyLargeRows(b *testing.B) {
	const n = 1000
	l, err := audit.Open(context.Background(), filepath.Join(b.TempDir(), "audit.db"), audit.WithMaxBatch(64))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	note := strings.Repeat("0123456789abcdef", 60<<10/16)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				if _, err := l.Track(context.Background(), nil, "large.row", nil, audit.WithMeta("note", note), audit.WithMeta("i", i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var peak uint64
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		done := make(chan struct{})
		sampled := make(chan uint64)
		go func() {
			var top uint64
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > base {
					top = max(top, ms.HeapInuse-base)
				}
				select {
				case <-done:
					sampled <- top
					return
				case <-t.C:
				}
			}
		}()
		rep, err := l.Verify(context.Background())
		close(done)
		peak = max(peak, <-sampled)
		if err != nil || !rep.OK || rep.Checked != n {
			b.Fatalf("%+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
