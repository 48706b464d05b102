package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/postgres"
)

// The PostgreSQL section: it runs when -postgres (or $AUDIT_BENCH_POSTGRES)
// gives a DSN, of a role that may create schemas. Each measurement runs in
// a schema of its own, dropped afterwards.
//
// "Processes" are separate stores, each with its own Logger and pool, in
// this one process: on the server they are separate clients exactly as
// processes would be.

// pgResults is what the PostgreSQL section measured.
type pgResults struct {
	Server string
	Ingest []pgIngest
	Sizes  []sizeResult
}

// pgIngest is one ingest measurement at one concurrency.
type pgIngest struct {
	Processes, Callers int
	Track              ingestResult // through Logger.Track
	Naive              ingestResult // one autocommit INSERT per event, same concurrency
	NaiveText          ingestResult // the same into TEXT columns (what BYTEA costs)
	Ceiling            ingestResult // one connection, transactions of 1,000 rows
}

// pgBench connects to dsn and makes schemas for the measurements.
type pgBench struct {
	dsn   string
	admin *sqlx.DB
}

// schema creates a new schema and returns the DSN of a connection that
// keeps its tables there, and a function that drops it.
func (b *pgBench) schema(ctx context.Context) (string, func(), error) {
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := "auditbench_" + hex.EncodeToString(r[:])
	if _, err := b.admin.ExecContext(ctx, `CREATE SCHEMA `+name); err != nil {
		return "", nil, err
	}
	drop := func() { _, _ = b.admin.ExecContext(context.Background(), `DROP SCHEMA `+name+` CASCADE`) }
	dsn := b.dsn
	if strings.Contains(dsn, "://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + "search_path=" + name
	} else {
		dsn += " search_path=" + name
	}
	return dsn, drop, nil
}

func runPostgres(ctx context.Context, dsn string, cfg config) (pgResults, error) {
	admin, err := sqlx.Open(postgres.DriverName, dsn)
	if err != nil {
		return pgResults{}, err
	}
	defer admin.Close()
	b := &pgBench{dsn: dsn, admin: admin}
	var res pgResults
	if err := admin.GetContext(ctx, &res.Server, `SELECT version()`); err != nil {
		return res, fmt.Errorf("postgres: %w", err)
	}
	logf("PostgreSQL: %s", res.Server)
	if cfg.Only != "queries" {
		n := cfg.PGIngest
		for _, c := range [][2]int{{1, 1}, {1, 16}, {4, 16}} {
			r, err := b.ingest(ctx, c[0], c[1], n)
			if err != nil {
				return res, fmt.Errorf("postgres ingest %dx%d: %w", c[0], c[1], err)
			}
			res.Ingest = append(res.Ingest, r)
		}
	}
	if cfg.Only != "ingest" {
		if res.Sizes, err = b.sizes(ctx, cfg); err != nil {
			return res, fmt.Errorf("postgres queries: %w", err)
		}
	}
	return res, nil
}

// trackPG records args through procs stores at once, each with callers
// goroutines, into the schema at dsn.
func trackPG(ctx context.Context, dsn string, procs, callers int, args []trackArgs) (ingestResult, error) {
	var loggers []*audit.Logger
	defer func() {
		for _, l := range loggers {
			l.Close()
		}
	}()
	for range procs {
		s, err := postgres.Open(ctx, dsn, postgres.WithMaxConns(4))
		if err != nil {
			return ingestResult{}, err
		}
		l, err := audit.New(s)
		if err != nil {
			return ingestResult{}, err
		}
		loggers = append(loggers, l)
	}
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for p := range procs {
		for range callers {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(args) {
						return
					}
					a := &args[i]
					if _, err := loggers[p].Track(ctx, a.actor, a.action, a.resource, a.opts...); err != nil {
						once.Do(func() { firstErr = err })
						return
					}
				}
			})
		}
	}
	wg.Wait()
	dur := time.Since(start)
	return ingestResult{Name: "Track", Events: len(args), Dur: dur}, firstErr
}

// pgColumns are the columns of audit_events, in order; pgColumnCount how
// many.
const (
	pgColumns = `seq, id, tenant, action, actor_type, actor_id, actor_name, resource_type, resource_id,
	resource_name, targets, outcome, metadata, idempotency_key, occurred_at, recorded_at, prev_hash, hash, hash_version,
	origin_ip, origin_user_agent, origin_request_id`
	pgColumnCount = 22
)

// pgTextColumn reports whether column i of pgColumns holds text (BYTEA in
// audit_events, TEXT in naive_text).
func pgTextColumn(i int) bool { return i >= 1 && i <= 13 || i >= 19 }

// pgTextTable is audit_events with TEXT columns in the C collation (which
// compares bytewise, as BYTEA does), to measure what BYTEA costs.
const pgTextTable = `CREATE TABLE naive_text (
	seq BIGINT PRIMARY KEY, id TEXT COLLATE "C" NOT NULL, tenant TEXT COLLATE "C" NOT NULL,
	action TEXT COLLATE "C" NOT NULL, actor_type TEXT COLLATE "C" NOT NULL, actor_id TEXT COLLATE "C" NOT NULL,
	actor_name TEXT COLLATE "C" NOT NULL, resource_type TEXT COLLATE "C" NOT NULL,
	resource_id TEXT COLLATE "C" NOT NULL, resource_name TEXT COLLATE "C" NOT NULL, targets TEXT COLLATE "C",
	outcome TEXT COLLATE "C" NOT NULL, metadata TEXT COLLATE "C", idempotency_key TEXT COLLATE "C",
	occurred_at BIGINT NOT NULL, recorded_at BIGINT NOT NULL, prev_hash BYTEA NOT NULL, hash BYTEA NOT NULL,
	hash_version INTEGER NOT NULL, origin_ip TEXT COLLATE "C", origin_user_agent TEXT COLLATE "C",
	origin_request_id TEXT COLLATE "C");
CREATE INDEX ON naive_text (id);
CREATE INDEX ON naive_text (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX ON naive_text (tenant, seq);
CREATE INDEX ON naive_text (tenant, action, seq);
CREATE INDEX ON naive_text (tenant, actor_id, seq);
CREATE INDEX ON naive_text (tenant, resource_id, seq)`

// ingest measures Track, the naive baseline (BYTEA and TEXT) and the
// ceiling at procs x callers.
func (b *pgBench) ingest(ctx context.Context, procs, callers, n int) (pgIngest, error) {
	r := pgIngest{Processes: procs, Callers: callers}
	args := makeTrackArgs(n, uint64(procs*100+callers))
	dsn, drop, err := b.schema(ctx)
	if err != nil {
		return r, err
	}
	defer drop()
	logf("postgres ingest: %d x %d callers, %d events", procs, callers, n)
	if r.Track, err = labeled(ctx, fmt.Sprintf("pg-track-%dx%d", procs, callers), func(ctx context.Context) (ingestResult, error) {
		return trackPG(ctx, dsn, procs, callers, args)
	}); err != nil {
		return r, err
	}
	logf("  Track: %.0f events/s", r.Track.Rate())

	db, err := sqlx.Open(postgres.DriverName, dsn)
	if err != nil {
		return r, err
	}
	defer db.Close()
	db.SetMaxOpenConns(procs*callers + 1)
	db.SetMaxIdleConns(procs*callers + 1)
	rows, err := readPGRows(ctx, db)
	if err != nil {
		return r, err
	}
	// The baselines: the same table and indexes (LIKE ... INCLUDING ALL
	// copies them, and no trigger), and the TEXT twin.
	if _, err := db.ExecContext(ctx, `CREATE TABLE naive (LIKE audit_events INCLUDING ALL);
		CREATE TABLE ceiling (LIKE audit_events INCLUDING ALL); `+pgTextTable); err != nil {
		return r, err
	}
	if r.Naive, err = naivePG(ctx, db, "naive", procs*callers, rows, false); err != nil {
		return r, err
	}
	logf("  naive: %.0f events/s", r.Naive.Rate())
	if r.NaiveText, err = naivePG(ctx, db, "naive_text", procs*callers, rows, true); err != nil {
		return r, err
	}
	logf("  naive, TEXT columns: %.0f events/s", r.NaiveText.Rate())
	if r.Ceiling, err = ceilingPG(ctx, db, rows); err != nil {
		return r, err
	}
	logf("  ceiling: %.0f events/s", r.Ceiling.Rate())
	return r, nil
}

// readPGRows reads the rows Track wrote, as the driver returns them.
func readPGRows(ctx context.Context, db *sqlx.DB) ([][]any, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+pgColumns+` FROM audit_events ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, pgColumnCount)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// textRow returns row with its text columns as strings.
func textRow(row []any) []any {
	out := make([]any, len(row))
	for i, v := range row {
		if b, ok := v.([]byte); ok && pgTextColumn(i) {
			v = string(b)
		}
		out[i] = v
	}
	return out
}

func insertPG(table string) string {
	ph := make([]string, pgColumnCount)
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	return `INSERT INTO ` + table + ` (` + pgColumns + `) VALUES (` + strings.Join(ph, ", ") + `)`
}

// naivePG inserts every row with its own autocommit INSERT, from workers
// goroutines at once.
func naivePG(ctx context.Context, db *sqlx.DB, table string, workers int, rows [][]any, text bool) (ingestResult, error) {
	query := insertPG(table)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(rows) {
					return
				}
				row := rows[i]
				if text {
					row = textRow(row)
				}
				if _, err := db.ExecContext(ctx, query, row...); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return ingestResult{Name: "naive " + table, Events: len(rows), Dur: time.Since(start)}, firstErr
}

// ceilingPG inserts the rows on one connection with one prepared
// statement, 1,000 per transaction.
func ceilingPG(ctx context.Context, db *sqlx.DB, rows [][]any) (ingestResult, error) {
	events := len(rows)
	start := time.Now()
	for len(rows) > 0 {
		n := min(len(rows), 1000)
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			return ingestResult{}, err
		}
		st, err := tx.PreparexContext(ctx, insertPG("ceiling"))
		if err != nil {
			tx.Rollback()
			return ingestResult{}, err
		}
		for _, row := range rows[:n] {
			if _, err := st.ExecContext(ctx, row...); err != nil {
				tx.Rollback()
				return ingestResult{}, err
			}
		}
		if err := tx.Commit(); err != nil {
			return ingestResult{}, err
		}
		rows = rows[n:]
	}
	return ingestResult{Name: "ceiling", Events: events, Dur: time.Since(start)}, nil
}

// sizes grows one log through the sizes and measures the queries at each.
func (b *pgBench) sizes(ctx context.Context, cfg config) ([]sizeResult, error) {
	dsn, drop, err := b.schema(ctx)
	if err != nil {
		return nil, err
	}
	if !cfg.Keep {
		defer drop()
	}
	s, err := postgres.Open(ctx, dsn, postgres.WithMaxConns(8))
	if err != nil {
		return nil, err
	}
	l, err := audit.New(s, audit.WithMaxBatch(cfg.SeedBatch))
	if err != nil {
		return nil, err
	}
	defer l.Close()
	db := s.DB()
	var out []sizeResult
	var have int64
	var keys queryKeys
	for i, size := range cfg.Sizes {
		r := sizeResult{Size: size, Seeded: size - have}
		logf("postgres: seeding the log from %d to %d rows", have, size)
		if r.SeedDur, err = labeled(ctx, "pg-seed", func(ctx context.Context) (time.Duration, error) {
			return seed(ctx, l, have, size, cfg.SeedWorkers)
		}); err != nil {
			return nil, err
		}
		have = size
		logf("  seeded %d rows in %.1fs: %.0f rows/s", r.Seeded, r.SeedDur.Seconds(), float64(r.Seeded)/r.SeedDur.Seconds())
		for _, table := range []string{"audit_events", "audit_counts", "audit_action_terms", "audit_targets", "audit_refs", "audit_ref_terms"} {
			if _, err := db.ExecContext(ctx, `VACUUM ANALYZE `+table); err != nil {
				return nil, err
			}
		}
		if i == 0 {
			if keys, err = pickKeys(ctx, db); err != nil {
				return nil, err
			}
		}
		logf("postgres: queries at %s rows (%d repetitions each)", human(size), cfg.Reps)
		if r.Latencies, err = labeled(ctx, "pg-queries-"+human(size), func(ctx context.Context) (map[string]latency, error) {
			return runQueries(ctx, l, db, nil, size, keys, cfg.Reps)
		}); err != nil {
			return nil, fmt.Errorf("queries at %d rows: %w", size, err)
		}
		if r.Verify, err = labeled(ctx, "pg-verify-"+human(size), func(ctx context.Context) (m memResult, err error) {
			m, r.Verified, err = benchVerify(ctx, l, size)
			return m, err
		}); err != nil {
			return nil, fmt.Errorf("verify at %d rows: %w", size, err)
		}
		logf("postgres: verify %s rows: %.0f rows/s, peak heap +%.1f MiB", human(size), r.Verify.Rate(), mib(r.Verify.PeakHeap))
		out = append(out, r)
	}
	return out, nil
}

// pgMarkdown writes the PostgreSQL section.
func pgMarkdown(w io.Writer, r pgResults) {
	fmt.Fprintf(w, "\n## PostgreSQL\n\nServer: %s, on the same machine, over TCP to localhost.\n", r.Server)
	if len(r.Ingest) > 0 {
		fmt.Fprintf(w, "\n### Ingest (events/s; processes × callers, each caller waiting for its commit)\n\n")
		fmt.Fprintf(w, "| processes × callers | Track | naive (autocommit INSERT per event) | naive, TEXT columns | ceiling (1 connection, 1,000 per tx) | Track / naive |\n")
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|\n")
		for _, i := range r.Ingest {
			fmt.Fprintf(w, "| %d × %d | %s | %s | %s | %s | %.2f |\n", i.Processes, i.Callers,
				fmtCount(i.Track.Rate()), fmtCount(i.Naive.Rate()),
				fmtCount(i.NaiveText.Rate()), fmtCount(i.Ceiling.Rate()), i.Track.Rate()/i.Naive.Rate())
		}
	}
	if len(r.Sizes) > 0 {
		fmt.Fprintf(w, "\n### Queries (median / p99 µs)\n\n| query |")
		for _, s := range r.Sizes {
			fmt.Fprintf(w, " %s rows |", human(s.Size))
		}
		small, large := r.Sizes[0], r.Sizes[len(r.Sizes)-1]
		fmt.Fprintf(w, " %s / %s (median) |\n|---|", human(large.Size), human(small.Size))
		for range r.Sizes {
			fmt.Fprintf(w, "---:|")
		}
		fmt.Fprintf(w, "---:|\n")
		for _, sh := range shapes {
			if _, ok := small.Latencies[sh.Key]; !ok {
				continue
			}
			fmt.Fprintf(w, "| %s |", sh.Name)
			for _, s := range r.Sizes {
				lat, ok := s.Latencies[sh.Key]
				if !ok {
					fmt.Fprintf(w, " – |")
					continue
				}
				fmt.Fprintf(w, " %s / %s |", fmtUS(lat.Median), fmtUS(lat.P99))
			}
			ratio := "–"
			if a, ok := large.Latencies[sh.Key]; ok && small.Latencies[sh.Key].Median > 0 {
				ratio = fmtRatio(float64(a.Median) / float64(small.Latencies[sh.Key].Median))
			}
			fmt.Fprintf(w, " %s |\n", ratio)
		}
		fmt.Fprintf(w, "\n| size | seeded (rows/s, Record from many goroutines) | Verify (rows/s) | Verify peak heap (MiB) |\n|---|---:|---:|---:|\n")
		for _, s := range r.Sizes {
			fmt.Fprintf(w, "| %s | %s | %s | %.1f |\n", human(s.Size), fmtCount(float64(s.Seeded)/s.SeedDur.Seconds()),
				fmtCount(s.Verify.Rate()), mib(s.Verify.PeakHeap))
		}
	}
}
