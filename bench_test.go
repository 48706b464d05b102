package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/internal/sqlcore"
)

// Micro-benchmarks of the write path, cursor walking and typeahead. Every
// benchmark seeds outside the timer, and each finishes quickly with
// -benchtime=1x, as CI runs them:
//
//	go test -run='^$' -bench=. -benchtime=1x ./...
//
// For the whole picture (ceiling and naive baselines, 100k and 1M rows,
// memory), run go run ./cmd/auditbench.

// benchActions are the actions of the seeded logs, in dot-separated
// segments.
var benchActions = []string{
	"billing.invoice.created", "billing.invoice.paid", "billing.invoice.voided", "billing.payment.failed",
	"billing.subscription.created", "billing.subscription.cancelled", "billing.plan.changed",
	"user.login.succeeded", "user.login.failed", "user.password.changed", "user.invited", "user.role.changed",
	"project.created", "project.deleted", "project.member.added", "project.settings.updated",
	"document.viewed", "document.shared", "api.key.created", "api.key.revoked",
}

// benchEvent makes a realistic event: Zipf-distributed actions, actors
// (100) and accounts (1,000), so that a few are hot, and small metadata.
type benchGen struct {
	r                        *rand.Rand
	actions, actors, account *rand.Zipf
}

func newBenchGen(seed uint64) *benchGen {
	r := rand.New(rand.NewPCG(seed, 1))
	return &benchGen{
		r:       r,
		actions: rand.NewZipf(r, 1.1, 2, uint64(len(benchActions)-1)),
		actors:  rand.NewZipf(r, 1.1, 1, 99),
		account: rand.NewZipf(r, 1.1, 1, 999),
	}
}

func (g *benchGen) event() audit.Event {
	a, acct := g.actors.Uint64(), g.account.Uint64()
	return audit.Event{
		Action:   benchActions[g.actions.Uint64()],
		Actor:    audit.Ref{Type: "user", ID: fmt.Sprintf("usr_%03d", a), Name: fmt.Sprintf("User %d", a)},
		Resource: audit.Ref{Type: "account", ID: fmt.Sprintf("acct_%04d", acct), Name: fmt.Sprintf("Account %d", acct)},
		Metadata: map[string]any{"ip": fmt.Sprintf("10.0.%d.%d", g.r.IntN(256), 1+g.r.IntN(254)), "request_id": g.r.Uint64()},
	}
}

// benchOpen opens a new, empty log that is closed when b ends.
func benchOpen(b *testing.B, opts ...audit.Option) *audit.Logger {
	b.Helper()
	l, err := audit.Open(context.Background(), filepath.Join(b.TempDir(), "audit.db"), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := l.Close(); err != nil {
			b.Error(err)
		}
	})
	return l
}

// benchSeed records n events through Record from many goroutines, which
// the writer commits in large group commits; with tenants > 1, over that
// many tenants ("tenant_000", ...), Zipf-distributed: a few large, many
// small.
func benchSeed(b *testing.B, l *audit.Logger, n, tenants int) {
	b.Helper()
	const workers = 1024
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newBenchGen(uint64(w))
			var zipf *rand.Zipf
			if tenants > 1 {
				zipf = rand.NewZipf(g.r, 1.2, 1, uint64(tenants-1))
			}
			for next.Add(1) <= int64(n) {
				e := g.event()
				if zipf != nil {
					e.Tenant = fmt.Sprintf("tenant_%03d", zipf.Uint64())
				}
				if _, err := l.Record(context.Background(), e); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// benchPage runs fn, which reads a page that must not be empty, as the
// sub-benchmark name of b.
func benchPage(b *testing.B, name string, fn func() (audit.Page, error)) {
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			p, err := fn()
			if err != nil {
				b.Fatal(err)
			}
			if len(p.Entries) == 0 {
				b.Fatal("empty page")
			}
		}
		reportCPU(b, cpu)
	})
}

// benchFirstPages reads page 1 of l, checks that the log holds n events,
// and walks to page 100: it returns page 1 and the cursor of page 100.
func benchFirstPages(b *testing.B, l *audit.Logger, n int) (audit.Page, string) {
	b.Helper()
	ctx := context.Background()
	page1, err := l.Recent(ctx, audit.Query{})
	if err != nil || page1.TotalCount != n {
		b.Fatalf("seeded log: total %d, %v", page1.TotalCount, err)
	}
	q := audit.Query{}
	for range 99 {
		p, err := l.Recent(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		q.After = p.Next
	}
	return page1, q.After
}

// BenchmarkTrack is one caller: every call waits for its own commit.
func BenchmarkTrack(b *testing.B) {
	l := benchOpen(b)
	g := newBenchGen(1)
	ctx := context.Background()
	e := g.event()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Track(ctx, e.Actor, e.Action, e.Resource, audit.WithMetadata(e.Metadata)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrackParallel is 8 callers per CPU, each waiting for its
// commit: the writer shares transactions between them (group commit).
func BenchmarkTrackParallel(b *testing.B) {
	l := benchOpen(b)
	ctx := context.Background()
	var seeds atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		e := newBenchGen(seeds.Add(1)).event()
		for pb.Next() {
			if _, err := l.Track(ctx, e.Actor, e.Action, e.Resource, audit.WithMetadata(e.Metadata)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTrackParallelNewKeys is BenchmarkTrackParallel where every
// event names an actor and a resource never seen before, in one of 16
// tenants: each event adds two counter rows (and their index entries), the
// worst case for what the write path keeps per key.
func BenchmarkTrackParallelNewKeys(b *testing.B) {
	l := benchOpen(b)
	ctx := context.Background()
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		meta := map[string]any{"ip": "10.0.0.1"}
		for pb.Next() {
			n := seq.Add(1)
			actor := audit.Ref{Type: "user", ID: fmt.Sprintf("usr_%d", n)}
			resource := audit.Ref{Type: "invoice", ID: fmt.Sprintf("inv_%d", n)}
			tl := l.WithTenant(fmt.Sprintf("tenant_%02d", n%16))
			if _, err := tl.Track(ctx, actor, benchActions[n%int64(len(benchActions))], resource, audit.WithMetadata(meta)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAppend appends fixed batches straight to the store, so that
// every run commits the same transactions: one op is one batch. It reports
// the CPU time and, on Linux, the bytes written (WAL frames and
// checkpoints) per event, which vary little between runs even where the
// wall time does on a busy machine. Events go to 1 or 16 tenants, with
// the benchmark's repeating keys or with a new actor and resource in each.
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct {
		tenants, batch int
		newKeys        bool
	}{{1, 1, false}, {1, 8, false}, {1, 8, true}, {16, 1, false}, {16, 8, false}, {16, 8, true}, {16, 64, false}} {
		name := fmt.Sprintf("tenants=%d/batch=%d", c.tenants, c.batch)
		if c.newKeys {
			name += "/new_keys"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s, err := audit.OpenSQLite(ctx, filepath.Join(b.TempDir(), "audit.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			g := newBenchGen(1)
			n := 0
			batch := func() []audit.Event {
				events := make([]audit.Event, c.batch)
				for i := range events {
					e := g.event()
					if c.newKeys {
						e.Actor.ID, e.Resource.ID = fmt.Sprintf("usr_%d", n), fmt.Sprintf("inv_%d", n)
					}
					if c.tenants > 1 {
						e.Tenant = fmt.Sprintf("tenant_%02d", n%c.tenants)
					}
					e.ID, e.Outcome, e.OccurredAt = fmt.Sprintf("ev%09d", n), audit.OutcomeSuccess, time.Unix(1700000000, int64(n)).UTC()
					events[i] = e
					n++
				}
				return events
			}
			for range 2048 / c.batch { // past the first pages of every table
				if _, err := s.Append(ctx, batch()); err != nil {
					b.Fatal(err)
				}
			}
			batches := make([][]audit.Event, b.N)
			for i := range batches {
				batches[i] = batch()
			}
			written, cpu := bytesWritten(), cpuTime()
			b.ResetTimer()
			for _, events := range batches {
				if _, err := s.Append(ctx, events); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			events := float64(b.N * c.batch)
			b.ReportMetric(float64(cpuTime()-cpu)/events, "cpu-ns/event")
			if w := bytesWritten(); w >= 0 {
				b.ReportMetric(float64(w-written)/events, "written-B/event")
			}
		})
	}
}

// bytesWritten returns the bytes this process has written (wchar of
// /proc/self/io), or -1 where that is unknown.
func bytesWritten() int64 {
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// median returns the median of ds (which it sorts).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// reportCPU reports the CPU time of the process (every goroutine, the
// garbage collector's too) per iteration of b since cpu: on a machine
// that other jobs share, it varies less than the time per iteration.
func reportCPU(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecordBatch is many concurrent Record calls, as the bulk seeding
// of cmd/auditbench does: b.N events per run, from 1,024 goroutines.
func BenchmarkRecordBatch(b *testing.B) {
	l := benchOpen(b, audit.WithMaxBatch(1024))
	const workers = 1024
	events := make([]audit.Event, 4096)
	g := newBenchGen(2)
	for i := range events {
		events[i] = g.event()
	}
	ctx := context.Background()
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, b.N) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if _, err := l.Record(ctx, events[i%int64(len(events))]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// benchQuerySize is the size of the log the query benchmarks read: large
// enough for 100 pages of 50, small enough to seed in about a second.
const benchQuerySize = 10000

// BenchmarkQueries reads one seeded log: Recent page 1, walking pages by
// cursor, filters, typeahead and Get. The log is seeded once, before the
// sub-benchmarks, outside their timers.
func BenchmarkQueries(b *testing.B) {
	l := benchOpen(b)
	benchSeed(b, l, benchQuerySize, 1)
	ctx := context.Background()
	page1, cursor100 := benchFirstPages(b, l, benchQuerySize)
	id := page1.Entries[len(page1.Entries)/2].ID
	page := func(name string, fn func() (audit.Page, error)) { benchPage(b, name, fn) }
	page("Recent/page1", func() (audit.Page, error) { return l.Recent(ctx, audit.Query{}) })
	// The baseline of issue 11: the same newest 50 rows read with a plain
	// SELECT * through the store's readers (prepared once, as the store's
	// statements are), every column scanned into a Go value; no total.
	db := l.Store().(*audit.SQLiteStore).DB()
	plainStmt, err := db.PrepareContext(ctx, `SELECT * FROM audit_events ORDER BY seq DESC LIMIT 50`)
	if err != nil {
		b.Fatal(err)
	}
	defer plainStmt.Close()
	plain := func() error {
		rows, err := plainStmt.QueryContext(ctx)
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		vals := make([]any, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			n++
		}
		if n != 50 {
			return fmt.Errorf("%d rows", n)
		}
		return rows.Close()
	}
	b.Run("Recent/plain_select_50", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			if err := plain(); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, cpu)
	})
	// The two, call by call in turn, so that a machine shared with other
	// jobs slows both alike: the medians of each and their ratio (the goal
	// of issue 11: at most 1.5), and the ratio of the means.
	b.Run("Recent/page1_over_plain", func(b *testing.B) {
		var pages, plains []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := l.Recent(ctx, audit.Query{}); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := plain(); err != nil {
				b.Fatal(err)
			}
			pages, plains = append(pages, t1.Sub(t0)), append(plains, time.Since(t1))
		}
		var sumPages, sumPlains time.Duration
		for i := range pages {
			sumPages, sumPlains = sumPages+pages[i], sumPlains+plains[i]
		}
		page, base := median(pages), median(plains)
		b.ReportMetric(float64(page.Microseconds()), "page-µs")
		b.ReportMetric(float64(base.Microseconds()), "plain-µs")
		b.ReportMetric(float64(page)/float64(base), "ratio")
		// Means include the calls that collect garbage, which medians leave
		// out.
		b.ReportMetric(float64(sumPages)/float64(sumPlains), "mean-ratio")
	})
	page("Recent/page100_by_cursor", func() (audit.Page, error) { return l.Recent(ctx, audit.Query{After: cursor100}) })
	page("Recent/page100_by_offset", func() (audit.Page, error) { return l.Recent(ctx, audit.Query{Page: 100}) })
	// Walking: each iteration fetches the page after the previous one (the
	// cursor is encoded by one call and decoded by the next), starting over
	// after the last page.
	b.Run("Recent/walk_by_cursor", func(b *testing.B) {
		q := audit.Query{}
		b.ReportAllocs()
		for b.Loop() {
			p, err := l.Recent(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			q.After = p.Next
		}
	})
	page("ForAccount", func() (audit.Page, error) { return l.ForAccount(ctx, "acct_0000", audit.Query{}) })
	page("Recent/actor", func() (audit.Page, error) { return l.Recent(ctx, audit.Query{ActorID: "usr_000"}) })
	page("Recent/action", func() (audit.Page, error) {
		return l.Recent(ctx, audit.Query{Action: "billing.invoice.paid"})
	})
	page("Search/inv", func() (audit.Page, error) { return l.Search(ctx, "inv", audit.Query{}) })
	page("Search/billing.sub", func() (audit.Page, error) { return l.Search(ctx, "billing.sub", audit.Query{}) })
	page("Search/empty", func() (audit.Page, error) { return l.Search(ctx, "", audit.Query{}) })
	for _, prefix := range []string{"", "b", "billing.inv"} {
		b.Run("Actions/"+prefix, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a, err := l.Actions(ctx, prefix, 10)
				if err != nil || len(a) == 0 {
					b.Fatal(len(a), err)
				}
			}
		})
	}
	// A keystroke in a search box: a term that matches nothing, one that
	// starts many refs, and narrower ones.
	for _, term := range []string{"zzz", "u", "usr_00", "acct", "inv"} {
		b.Run("Suggest/"+term, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Suggest(ctx, term, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.Get(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFoldLag reads the totals that come from the counts on a log of
// benchQuerySize events, with the counts folded up to the head (lag=0)
// and with the most events after the fold they can have (lag=127 at the
// default interval: the next write folds), each of which the views add from an index range:
// what the fold costs the reads (BENCHMARKS.md).
func BenchmarkFoldLag(b *testing.B) {
	l := benchOpen(b)
	benchSeed(b, l, benchQuerySize, 1)
	ctx := context.Background()
	db := l.Store().(*audit.SQLiteStore).DB()
	lag := func() int64 {
		var n int64
		if err := db.GetContext(ctx, &n, `SELECT (SELECT max(seq) FROM audit_events) - (SELECT seq FROM audit_fold)`); err != nil {
			b.Fatal(err)
		}
		return n
	}
	g := newBenchGen(7)
	track := func(n int64) {
		for range n {
			if _, err := l.Record(ctx, g.event()); err != nil {
				b.Fatal(err)
			}
		}
	}
	every := int64(sqlcore.DefaultFoldEvery)
	track(every - lag()) // one at a time: the last one folds
	for _, want := range []int64{0, every - 1} {
		track(want - lag())
		if got := lag(); got != want {
			b.Fatalf("lag %d, want %d", got, want)
		}
		name := fmt.Sprintf("lag=%d/", want)
		page := func(n string, fn func() (audit.Page, error)) { benchPage(b, name+n, fn) }
		page("Recent", func() (audit.Page, error) { return l.Recent(ctx, audit.Query{PerPage: 1}) })
		page("Recent/actor", func() (audit.Page, error) { return l.Recent(ctx, audit.Query{ActorID: "usr_000", PerPage: 1}) })
		page("Recent/action", func() (audit.Page, error) {
			return l.Recent(ctx, audit.Query{Action: "billing.invoice.paid", PerPage: 1})
		})
		page("Recent/subject", func() (audit.Page, error) { return l.Recent(ctx, audit.Query{Subject: "acct_0000", PerPage: 1}) })
		b.Run(name+"Actions", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if a, err := l.Actions(ctx, "", 10); err != nil || len(a) == 0 {
					b.Fatal(len(a), err)
				}
			}
		})
		b.Run(name+"Suggest", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s, err := l.Suggest(ctx, "acct_0", 10); err != nil || len(s) == 0 {
					b.Fatal(len(s), err)
				}
			}
		})
	}
}

// benchTenants is how many tenants BenchmarkAllTenants spreads its log
// over: more than an all-tenants page merges one index range at a time.
const benchTenants = 100

// BenchmarkAllTenants reads a log of benchQuerySize events spread over
// benchTenants tenants (Zipf: a few large, many small) through the
// AllTenants view, and the same shapes on the largest tenant's view for
// comparison. The common keys are held by most tenants, so the filtered
// pages take the paths past maxTenantArms.
func BenchmarkAllTenants(b *testing.B) {
	l := benchOpen(b)
	benchSeed(b, l, benchQuerySize, benchTenants)
	ctx := context.Background()
	all := l.AllTenants()
	page1, cursor100 := benchFirstPages(b, all, benchQuerySize)
	id := page1.Entries[len(page1.Entries)/2].ID
	since := page1.Entries[len(page1.Entries)-1].OccurredAt.Add(-time.Second)
	one := l.WithTenant("tenant_000")
	page := func(name string, fn func() (audit.Page, error)) { benchPage(b, name, fn) }
	for _, v := range []struct {
		name string
		l    *audit.Logger
	}{{"all", all}, {"one", one}} {
		page(v.name+"/Recent/page1", func() (audit.Page, error) { return v.l.Recent(ctx, audit.Query{}) })
		page(v.name+"/ForAccount", func() (audit.Page, error) { return v.l.ForAccount(ctx, "acct_0000", audit.Query{}) })
		page(v.name+"/Recent/actor", func() (audit.Page, error) { return v.l.Recent(ctx, audit.Query{ActorID: "usr_000"}) })
		page(v.name+"/Recent/action", func() (audit.Page, error) {
			return v.l.Recent(ctx, audit.Query{Action: "billing.invoice.paid"})
		})
		page(v.name+"/Recent/rare_action", func() (audit.Page, error) {
			return v.l.Recent(ctx, audit.Query{Action: "api.key.revoked"})
		})
		page(v.name+"/Recent/action_and_actor", func() (audit.Page, error) {
			return v.l.Recent(ctx, audit.Query{Action: "billing.invoice.paid", ActorID: "usr_001"})
		})
		page(v.name+"/Recent/since", func() (audit.Page, error) { return v.l.Recent(ctx, audit.Query{Since: since}) })
		page(v.name+"/Search/inv", func() (audit.Page, error) { return v.l.Search(ctx, "inv", audit.Query{}) })
		b.Run(v.name+"/Actions", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if a, err := v.l.Actions(ctx, "b", 10); err != nil || len(a) == 0 {
					b.Fatal(len(a), err)
				}
			}
		})
	}
	page("all/Recent/page100_by_cursor", func() (audit.Page, error) { return all.Recent(ctx, audit.Query{After: cursor100}) })
	page("all/Recent/tenant", func() (audit.Page, error) { return all.Recent(ctx, audit.Query{Tenant: "tenant_000"}) })
	b.Run("all/Get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := all.Get(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCanonical measures the canonical encoding and the chain hash of
// a typical event.
func BenchmarkCanonical(b *testing.B) {
	e := audit.Event{
		Seq: 12345, ID: "01jd3x5v9k8m2n4p6q8r0s2t4v", Tenant: "acme", Action: "billing.invoice.paid",
		Actor:      audit.Ref{Type: "user", ID: "42", Name: "Alice"},
		Resource:   audit.Ref{Type: "invoice", ID: "inv_123"},
		Targets:    []audit.Ref{{Type: "billing_account", ID: "acct_42"}},
		Outcome:    audit.OutcomeSuccess,
		Metadata:   map[string]any{"amount": json.Number("4200"), "currency": "EUR", "ip": "203.0.113.9"},
		OccurredAt: time.Unix(1700000000, 123456789).UTC(), RecordedAt: time.Unix(1700000000, 223456789).UTC(),
	}
	prev := make([]byte, audit.HashSize)
	b.Run("Canonical", func(b *testing.B) {
		for b.Loop() {
			if _, err := audit.Canonical(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ChainHash", func(b *testing.B) {
		for b.Loop() {
			if _, err := audit.ChainHash(prev, e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPlainInsert is BenchmarkAppend's baseline: the rows a store
// appended, inserted again by a prepared INSERT into a new file holding
// only the log's audit_events table and indexes (no triggers, no derived
// tables), on the writer's pragmas, batch rows per transaction. Its
// written-B/event against BenchmarkAppend's counts the pages that each
// commit writes to the WAL beyond the event's own table and indexes. The
// "/trigger" runs add the log's insert trigger (the next seq, the stored
// types): their cpu-ns/event against the others' is what it costs a row.
func BenchmarkPlainInsert(b *testing.B) {
	for _, c := range []struct {
		batch   int
		trigger bool
	}{{1, false}, {8, false}, {1, true}, {8, true}} {
		batch, trigger := c.batch, c.trigger
		name := fmt.Sprintf("tenants=1/batch=%d", batch)
		if trigger {
			name += "/trigger"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			s, err := audit.OpenSQLite(ctx, filepath.Join(dir, "audit.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			g := newBenchGen(1)
			total := 2048 + b.N*batch
			for n := 0; n < total; n += 256 {
				events := make([]audit.Event, min(256, total-n))
				for i := range events {
					events[i] = g.event()
				}
				if _, err := s.Append(ctx, events); err != nil {
					b.Fatal(err)
				}
			}
			var ddl []string
			if err := s.DB().SelectContext(ctx, &ddl, `SELECT sql FROM sqlite_master
				WHERE tbl_name = 'audit_events' AND sql IS NOT NULL
				AND (type IN ('table', 'index') OR ? AND type = 'trigger' AND name = 'audit_events_insert')
				ORDER BY type = 'index', type = 'trigger', name`, trigger); err != nil {
				b.Fatal(err)
			}
			rows, err := s.DB().QueryContext(ctx, `SELECT * FROM audit_events ORDER BY seq`)
			if err != nil {
				b.Fatal(err)
			}
			cols, _ := rows.Columns()
			var all [][]any
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					b.Fatal(err)
				}
				all = append(all, vals)
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			rows.Close()
			db, err := sqlx.Open("sqlite", "file:"+filepath.Join(dir, "plain.db")+
				"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"+
				"&_pragma=temp_store(MEMORY)&_pragma=cache_size(-65536)")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			for _, stmt := range ddl {
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					b.Fatal(err)
				}
			}
			ins, err := db.PrepareContext(ctx, "INSERT INTO audit_events ("+strings.Join(cols, ", ")+") VALUES ("+
				strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")+")")
			if err != nil {
				b.Fatal(err)
			}
			defer ins.Close()
			insert := func(rows [][]any) {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range rows {
					if _, err := tx.StmtContext(ctx, ins).ExecContext(ctx, r...); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			for i := 0; i < 2048; i += batch {
				insert(all[i : i+batch])
			}
			written, cpu := bytesWritten(), cpuTime()
			b.ResetTimer()
			for i := 2048; i < len(all); i += batch {
				insert(all[i : i+batch])
			}
			b.StopTimer()
			events := float64(b.N * batch)
			b.ReportMetric(float64(cpuTime()-cpu)/events, "cpu-ns/event")
			if w := bytesWritten(); w >= 0 {
				b.ReportMetric(float64(w-written)/events, "written-B/event")
			}
		})
	}
}
