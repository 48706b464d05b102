package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

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
