// Command auditbench measures the audit log against the targets of the
// performance issue, in one process, and prints a table and markdown for
// BENCHMARKS.md:
//
//   - ingest: Track with 1, 8 and 64 concurrent callers, each waiting for
//     its durable acknowledgement, against the same rows inserted into the
//     same audit_events table and indexes (read from the log's own
//     database) by a prepared statement in transactions of 1,000 (the
//     ceiling) and by one autocommit INSERT per event (the naive baseline);
//   - queries at each log size (default 100k and 1M rows): median and p99
//     of every query shape an admin page or a typeahead box sends;
//   - the same shapes on two logs of 50k and 250k rows open side by side,
//     timed in alternation in one loop (-interleaved), and beside Recent
//     page 1 a plain SELECT * of the newest 50 rows (its baseline);
//   - HTTP (-only http, or -with-http in a run of every part): handlers on loopback, Track against a plain
//     INSERT and a Recent page against a plain SELECT, at 1, 16 and 64
//     connections;
//   - a full iteration of the log (All), an export (JSON Lines), a plain
//     SELECT * scan (Verify's baseline) and Verify:
//     rows/s and peak heap, which
//     must not grow with the log.
//
// Usage:
//
//	go run ./cmd/auditbench [-sizes 100000,1000000] [-ingest 20000] [-queries 200]
//	    [-interleaved 50000,250000|off] [-http 3s] [-http-rows 100000] [-with-http]
//	    [-dir DIR] [-keep] [-out BENCHMARKS.md] [-cpuprofile FILE] [-only ingest|queries|http]
//	    [-postgres DSN] [-pg-ingest 10000] [-sqlite=false]
//
// With -postgres (or $AUDIT_BENCH_POSTGRES), a PostgreSQL section follows:
// ingest from 1 process x 1 caller, 1 x 16 and 4 x 16 through Track, against one autocommit INSERT per event into the same
// table and indexes at the same concurrency (also into TEXT columns, what
// BYTEA costs) and a batched ceiling; then the same queries at each size.
// The command is a module of its own (it imports the postgres module, which
// the root module must not require); from the repository's root, go.work
// makes "go run ./cmd/auditbench" work as before.
//
// With -cpuprofile, samples carry the label stage (track-1, track-8,
// track-64, ceiling, per-tx-8, naive, seed, queries-100k, iteration-1M,
// verify-1M, ...): see where one stage spends its time with
//
//	go tool pprof -tagfocus stage=track-8 -top cpu.prof
//
// The logs are seeded through Logger.Record from many goroutines at once,
// so the library's group commit writes them in large transactions (see
// -seed-workers and -seed-batch); the log grows from one size to the next.
// Progress goes to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trailkit/audit"
)

type config struct {
	Sizes       []int64
	Ingest      int
	Reps        int
	Dir         string
	Keep        bool
	Out         string
	CPUProfile  string
	Only        string
	SeedWorkers int
	SeedBatch   int
	// Postgres is the DSN of the PostgreSQL section ("" skips it);
	// PGIngest the events of each of its ingest measurements.
	Postgres string
	PGIngest int
	// SQLite runs the SQLite section.
	SQLite bool
	// Interleaved are the two log sizes whose queries are timed in
	// alternation in one loop (nil: not measured).
	Interleaved []int64
	// HTTP is the duration of each cell of the HTTP comparison (0: not
	// run); HTTPRows the size of the log its read handlers page through.
	HTTP     time.Duration
	HTTPRows int64
	// WithHTTP adds the HTTP comparison to a run of every part (-only
	// http runs it alone); off by default, to keep that run short.
	WithHTTP bool
}

// sizeResult is what was measured at one size of the log.
type sizeResult struct {
	Size      int64
	Seeded    int64         // rows added to reach this size
	SeedDur   time.Duration // time it took
	Latencies map[string]latency
	Iteration memResult
	Export    memResult
	Verify    memResult
	Verified  bool // Verify was measured
	// Scan is the baseline of Verify: every column of every row read
	// through database/sql into Go values, from the same file.
	Scan memResult
	// Recount is the time of Verify's recount of the derived tables
	// (counters, catalogues, terms) alone, when the store has one.
	Recount time.Duration
}

type results struct {
	Machine machine
	Config  config
	Ingest  ingestResults
	Sizes   []sizeResult
	PG      *pgResults
	// Interleaved is the growth comparison at two sizes timed in one loop.
	Interleaved *interleavedResult
	HTTP        *httpResults
	Elapsed     time.Duration
	// LoadStart and LoadEnd are the load averages before and after.
	LoadStart, LoadEnd string
}

func main() {
	var cfg config
	var sizes string
	flag.StringVar(&sizes, "sizes", "100000,1000000", "comma-separated log sizes (rows) to query; ratios compare the largest with the smallest")
	flag.IntVar(&cfg.Ingest, "ingest", 20000, "events per ingest measurement")
	flag.IntVar(&cfg.Reps, "queries", 200, "timed repetitions per query shape (page 1,000 by OFFSET runs a tenth of them)")
	flag.StringVar(&cfg.Dir, "dir", "", "directory for the database files (default: the system temporary directory); a new subdirectory is made in it and removed afterwards")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the database files")
	flag.StringVar(&cfg.Out, "out", "", "write the markdown to this file (default: print it to stdout after the table)")
	flag.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.StringVar(&cfg.Only, "only", "", `run one part only: "ingest", "queries" (the sizes and the interleaved sizes) or "http" (with -cpuprofile, to see where its time goes)`)
	flag.IntVar(&cfg.SeedWorkers, "seed-workers", 4096, "goroutines calling Record while seeding")
	flag.IntVar(&cfg.SeedBatch, "seed-batch", 2048, "largest group commit while seeding (audit.WithMaxBatch)")
	flag.StringVar(&cfg.Postgres, "postgres", os.Getenv("AUDIT_BENCH_POSTGRES"), "DSN of a PostgreSQL server (a role that may create schemas) for the PostgreSQL section; default $AUDIT_BENCH_POSTGRES; empty skips the section")
	flag.IntVar(&cfg.PGIngest, "pg-ingest", 10000, "events per PostgreSQL ingest measurement")
	flag.BoolVar(&cfg.SQLite, "sqlite", true, "run the SQLite section (-sqlite=false with -postgres runs the PostgreSQL section alone)")
	var interleaved string
	flag.StringVar(&interleaved, "interleaved", "50000,250000", `two log sizes whose queries are timed in alternation in one loop (the growth target); "off" skips them`)
	flag.DurationVar(&cfg.HTTP, "http", 3*time.Second, "duration of each cell of the HTTP comparison (handlers on loopback); 0 skips it")
	flag.Int64Var(&cfg.HTTPRows, "http-rows", 100000, "rows of the log the HTTP read handlers page through")
	flag.BoolVar(&cfg.WithHTTP, "with-http", false, "also run the HTTP comparison when running every part (about a minute more); -only http runs it alone")
	flag.Parse()
	var err error
	if cfg.Sizes, err = parseSizes(sizes); err != nil {
		fatal(err)
	}
	if interleaved != "off" && interleaved != "" {
		if cfg.Interleaved, err = parseSizes(interleaved); err != nil || len(cfg.Interleaved) != 2 {
			fatal(fmt.Errorf("-interleaved: want two different sizes such as 50000,250000, or off"))
		}
	}
	if cfg.HTTPRows < perPage+1 {
		fatal(fmt.Errorf("-http-rows: want more than %d", perPage))
	}
	if cfg.Ingest < 1 || cfg.Reps < 1 || cfg.SeedWorkers < 1 || cfg.SeedBatch < 1 {
		fatal(fmt.Errorf("-ingest, -queries, -seed-workers and -seed-batch must be positive"))
	}
	if cfg.Only != "" && cfg.Only != "ingest" && cfg.Only != "queries" && cfg.Only != "http" {
		fatal(fmt.Errorf("-only: want ingest, queries or http, not %q", cfg.Only))
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	res, err := run(context.Background(), cfg)
	if err != nil {
		pprof.StopCPUProfile()
		fatal(err)
	}
	printText(os.Stdout, res)
	md := markdown(res)
	if cfg.Out == "" {
		fmt.Println()
		fmt.Print(md)
		return
	}
	if err := os.WriteFile(cfg.Out, []byte(md), 0o644); err != nil {
		fatal(err)
	}
	logf("markdown written to %s", cfg.Out)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "auditbench:", err)
	os.Exit(1)
}

func parseSizes(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sizes: %q is not a positive number of rows", f)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func run(ctx context.Context, cfg config) (res results, err error) {
	start := time.Now()
	res = results{Machine: describeMachine(), Config: cfg, LoadStart: loadAverage()}
	logf("auditbench on %s", res.Machine)
	dir, err := os.MkdirTemp(cfg.Dir, "auditbench-")
	if err != nil {
		return res, err
	}
	if cfg.Keep {
		logf("files in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	part := func(name string) bool { return cfg.SQLite && (cfg.Only == "" || cfg.Only == name) }
	if part("ingest") {
		if res.Ingest, err = runIngest(ctx, dir, cfg.Ingest); err != nil {
			return res, err
		}
	}
	if part("queries") && cfg.Interleaved != nil {
		if res.Interleaved, err = runInterleaved(ctx, dir, cfg); err != nil {
			return res, err
		}
	}
	if part("queries") {
		if res.Sizes, err = runSizes(ctx, dir, cfg); err != nil {
			return res, err
		}
	}
	if cfg.SQLite && (cfg.Only == "http" || cfg.Only == "" && cfg.WithHTTP) && cfg.HTTP > 0 {
		if res.HTTP, err = runHTTP(ctx, dir, cfg); err != nil {
			return res, err
		}
	}
	if cfg.Postgres != "" {
		pg, err := runPostgres(ctx, cfg.Postgres, cfg)
		if err != nil {
			return res, err
		}
		res.PG = &pg
	}
	res.Elapsed = time.Since(start)
	res.LoadEnd = loadAverage()
	logf("done in %.0fs (load average %s)", res.Elapsed.Seconds(), res.LoadEnd)
	return res, nil
}

// runSizes grows one log through the sizes and measures it at each.
func runSizes(ctx context.Context, dir string, cfg config) ([]sizeResult, error) {
	path := filepath.Join(dir, "log.db")
	// The writer goroutine inherits the label of Open: it only writes while
	// seeding.
	l, err := labeled(ctx, "seed", func(ctx context.Context) (*audit.Logger, error) {
		return audit.Open(ctx, path, audit.WithMaxBatch(cfg.SeedBatch))
	})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	ro, err := openReadOnly(path)
	if err != nil {
		return nil, err
	}
	defer ro.Close()
	plain, err := openPlainReader(ctx, path)
	if err != nil {
		return nil, err
	}
	defer plain.Close()
	var out []sizeResult
	var have int64
	var keys queryKeys
	for i, size := range cfg.Sizes {
		r := sizeResult{Size: size, Seeded: size - have}
		logf("seeding the log from %d to %d rows (%d goroutines calling Record, batches up to %d)", have, size, cfg.SeedWorkers, cfg.SeedBatch)
		if r.SeedDur, err = labeled(ctx, "seed", func(ctx context.Context) (time.Duration, error) {
			return seed(ctx, l, have, size, cfg.SeedWorkers)
		}); err != nil {
			return nil, err
		}
		have = size
		logf("  seeded %d rows in %.1fs: %.0f rows/s", r.Seeded, r.SeedDur.Seconds(), float64(r.Seeded)/r.SeedDur.Seconds())
		// Flush what seeding left in the OS's page cache, so that its
		// write-back does not compete with the queries.
		syncStart := time.Now()
		if err := syncFiles(path, path+"-wal"); err != nil {
			return nil, err
		}
		logf("  flushed the files to disk in %.1fs", time.Since(syncStart).Seconds())
		if i == 0 {
			if keys, err = pickKeys(ctx, ro); err != nil {
				return nil, err
			}
		}
		logf("queries at %s rows (%d repetitions each)", human(size), cfg.Reps)
		if r.Latencies, err = labeled(ctx, "queries-"+human(size), func(ctx context.Context) (map[string]latency, error) {
			return runQueries(ctx, l, ro, plain, size, keys, cfg.Reps)
		}); err != nil {
			return nil, fmt.Errorf("queries at %d rows: %w", size, err)
		}
		logf("full iteration of %s rows (All)", human(size))
		if r.Iteration, err = labeled(ctx, "iteration-"+human(size), func(ctx context.Context) (memResult, error) {
			return fullIteration(ctx, l, size)
		}); err != nil {
			return nil, err
		}
		logf("  %.0f rows/s, peak heap +%.1f MiB, %.0f B allocated per row", r.Iteration.Rate(), mib(r.Iteration.PeakHeap), r.Iteration.AllocPerRow)
		logf("export of %s rows (JSON Lines)", human(size))
		if r.Export, err = labeled(ctx, "export-"+human(size), func(ctx context.Context) (memResult, error) {
			return fullExport(ctx, l, size)
		}); err != nil {
			return nil, err
		}
		logf("  %.0f rows/s, peak heap +%.1f MiB, %.0f B allocated per row", r.Export.Rate(), mib(r.Export.PeakHeap), r.Export.AllocPerRow)
		logf("plain scan of %s rows (SELECT * through database/sql, Verify's baseline)", human(size))
		if r.Scan, err = labeled(ctx, "scan-"+human(size), func(ctx context.Context) (memResult, error) {
			return plain.fullScan(ctx, size)
		}); err != nil {
			return nil, err
		}
		logf("  %.0f rows/s", r.Scan.Rate())
		if r.Verify, err = labeled(ctx, "verify-"+human(size), func(ctx context.Context) (m memResult, err error) {
			m, r.Verified, err = benchVerify(ctx, l, size)
			return m, err
		}); err != nil {
			return nil, fmt.Errorf("verify at %d rows: %w", size, err)
		}
		logf("verify %s rows: %.0f rows/s, peak heap +%.1f MiB", human(size), r.Verify.Rate(), mib(r.Verify.PeakHeap))
		if dc, ok := l.Store().(audit.DerivedChecker); ok {
			if r.Recount, err = labeled(ctx, "recount-"+human(size), func(ctx context.Context) (time.Duration, error) {
				return timeRecount(ctx, dc)
			}); err != nil {
				return nil, err
			}
			logf("  of which the recount of the derived tables, alone: %.2f s", r.Recount.Seconds())
		}
		out = append(out, r)
	}
	return out, nil
}

// labeled runs fn with the pprof label stage=name, which the goroutines it
// starts inherit, so that a CPU profile of the whole run can be cut by
// stage: go tool pprof -tagfocus stage=track-8 -top auditbench cpu.prof.
// Stages: track-1, track-8, track-64, ceiling, per-tx-8, naive, seed,
// queries-SIZE, iteration-SIZE, verify-SIZE.
func labeled[T any](ctx context.Context, name string, fn func(context.Context) (T, error)) (v T, err error) {
	pprof.Do(ctx, pprof.Labels("stage", name), func(ctx context.Context) { v, err = fn(ctx) })
	return v, err
}

func syncFiles(paths ...string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sync %s: %w", p, err)
		}
	}
	return nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// human writes a number of rows as 100k, 1M, 2.5M.
func human(n int64) string {
	switch {
	case n >= 1_000_000 && n%100_000 == 0:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + "M"
	case n >= 1_000 && n%100 == 0:
		return strconv.FormatFloat(float64(n)/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatInt(n, 10)
}
