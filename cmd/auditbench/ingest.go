package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trailkit/audit"
)

// ingestResult is one write-throughput measurement.
type ingestResult struct {
	Name   string
	Events int
	Dur    time.Duration
}

func (r ingestResult) Rate() float64 {
	if r.Dur <= 0 {
		return 0
	}
	return float64(r.Events) / r.Dur.Seconds()
}

// benchTrack records every event of args through Logger.Track into a new
// log, from callers goroutines at once; each call waits for its durable
// acknowledgement, as a request handler does. It returns the measurement and
// the path of the log, whose rows the baselines copy.
func benchTrack(ctx context.Context, dir string, callers int, args []trackArgs) (ingestResult, string, error) {
	path := filepath.Join(dir, fmt.Sprintf("ingest-%d.db", callers))
	l, err := audit.Open(ctx, path)
	if err != nil {
		return ingestResult{}, "", err
	}
	defer l.Close()
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(args) {
					return
				}
				a := &args[i]
				if _, err := l.Track(ctx, a.actor, a.action, a.resource, a.opts...); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	dur := time.Since(start)
	if firstErr != nil {
		return ingestResult{}, "", firstErr
	}
	if err := l.Close(); err != nil {
		return ingestResult{}, "", err
	}
	name := fmt.Sprintf("Track, %d callers", callers)
	if callers == 1 {
		name = "Track, 1 caller"
	}
	return ingestResult{Name: name, Events: len(args), Dur: dur}, path, nil
}

// baselineDSN is how the baselines open their files: the driver and pragmas
// of the store's writer (WAL, synchronous=NORMAL, busy_timeout 10s, foreign
// keys on).
func baselineDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
}

// openReadOnly opens the log's file read-only beside the Logger, to read
// the schema and the rows the baselines copy and to pick query keys.
func openReadOnly(path string) (*sqlx.DB, error) {
	return sqlx.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
}

// eventsSchema returns the CREATE TABLE of audit_events and its CREATE
// INDEX statements, as the log's own database has them: no triggers, no
// side tables.
func eventsSchema(ctx context.Context, db *sqlx.DB) ([]string, error) {
	var ddl []string
	err := db.SelectContext(ctx, &ddl, `SELECT sql FROM sqlite_master
		WHERE tbl_name = 'audit_events' AND type IN ('table', 'index') AND sql IS NOT NULL
		ORDER BY type = 'index', name`)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	if len(ddl) == 0 || !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(ddl[0])), "CREATE TABLE") {
		return nil, fmt.Errorf("read schema: no audit_events table")
	}
	return ddl, nil
}

// storedRows are the rows of a log's audit_events table, as the driver
// returns them, ready to be bound again.
type storedRows struct {
	Columns []string
	Rows    [][]any
}

func readRows(ctx context.Context, db *sqlx.DB) (storedRows, error) {
	return readRowsQuery(ctx, db, `SELECT * FROM audit_events ORDER BY seq`)
}

// readRowsQuery returns the rows query selects from audit_events.
func readRowsQuery(ctx context.Context, db *sqlx.DB, query string) (storedRows, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return storedRows{}, fmt.Errorf("read rows: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return storedRows{}, err
	}
	out := storedRows{Columns: cols}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return storedRows{}, fmt.Errorf("read rows: %w", err)
		}
		out.Rows = append(out.Rows, vals)
	}
	return out, rows.Err()
}

func (s storedRows) insertSQL() string {
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(s.Columns)), ", ")
	return "INSERT INTO audit_events (" + strings.Join(s.Columns, ", ") + ") VALUES (" + ph + ")"
}

// newBaseline creates path with the log's audit_events table and indexes.
func newBaseline(ctx context.Context, path string, ddl []string) (*sqlx.DB, error) {
	db, err := sqlx.Open("sqlite", baselineDSN(path))
	if err != nil {
		return nil, err
	}
	for _, stmt := range ddl {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("create baseline schema: %w", err)
		}
	}
	return db, nil
}

// benchCeiling inserts the rows into a fresh file with one prepared
// statement on one connection, perTx rows per IMMEDIATE transaction. With
// 1,000 it is the ceiling, the best this driver does for this schema; with
// 8 it is what 8 callers could reach if every transaction carried all of
// them and nothing else.
func benchCeiling(ctx context.Context, path string, ddl []string, rows storedRows, perTx int) (ingestResult, error) {
	db, err := newBaseline(ctx, path, ddl)
	if err != nil {
		return ingestResult{}, err
	}
	defer db.Close()
	conn, err := db.Connx(ctx)
	if err != nil {
		return ingestResult{}, err
	}
	defer conn.Close()
	stmt, err := conn.PrepareContext(ctx, rows.insertSQL())
	if err != nil {
		return ingestResult{}, err
	}
	defer stmt.Close()
	start := time.Now()
	for i := 0; i < len(rows.Rows); i += perTx {
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return ingestResult{}, err
		}
		for _, r := range rows.Rows[i:min(i+perTx, len(rows.Rows))] {
			if _, err := stmt.ExecContext(ctx, r...); err != nil {
				_, _ = conn.ExecContext(ctx, "ROLLBACK")
				return ingestResult{}, fmt.Errorf("ceiling insert: %w", err)
			}
		}
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			return ingestResult{}, err
		}
	}
	name := "Ceiling: prepared INSERT, 1,000 per tx"
	if perTx != 1000 {
		name = fmt.Sprintf("Reference: prepared INSERT, %d per tx", perTx)
	}
	return ingestResult{Name: name, Events: len(rows.Rows), Dur: time.Since(start)}, nil
}

// benchNaive inserts the rows as a developer writing it by hand would: one
// autocommit INSERT per event through the pool, unprepared.
func benchNaive(ctx context.Context, path string, ddl []string, rows storedRows) (ingestResult, error) {
	db, err := newBaseline(ctx, path, ddl)
	if err != nil {
		return ingestResult{}, err
	}
	defer db.Close()
	query := rows.insertSQL()
	start := time.Now()
	for _, r := range rows.Rows {
		if _, err := db.ExecContext(ctx, query, r...); err != nil {
			return ingestResult{}, fmt.Errorf("naive insert: %w", err)
		}
	}
	return ingestResult{Name: "Naive: one autocommit INSERT per event", Events: len(rows.Rows), Dur: time.Since(start)}, nil
}

// ingestResults are the write measurements.
type ingestResults struct {
	Ceiling, Naive ingestResult
	// PerTx8 is the ceiling's loop with 8 rows per transaction: the bound
	// for a group commit of 8 callers. Informational.
	PerTx8  ingestResult
	Track   map[int]ingestResult // by number of callers
	Callers []int
}

// runIngest measures Track with 1, 8 and 64 callers, each into a new log,
// then the ceiling and the naive baseline on the rows the 8-caller log
// stored.
func runIngest(ctx context.Context, dir string, n int) (ingestResults, error) {
	res := ingestResults{Track: map[int]ingestResult{}, Callers: []int{1, 8, 64}}
	args := makeTrackArgs(n, 42)
	var rowsFrom string
	for _, c := range res.Callers {
		logf("ingest: Track from %d concurrent caller(s), %d events", c, n)
		var path string
		r, err := labeled(ctx, fmt.Sprintf("track-%d", c), func(ctx context.Context) (r ingestResult, err error) {
			r, path, err = benchTrack(ctx, dir, c, args)
			return r, err
		})
		if err != nil {
			return res, fmt.Errorf("ingest with %d callers: %w", c, err)
		}
		logf("  %.0f events/s", r.Rate())
		res.Track[c] = r
		if c == 8 {
			rowsFrom = path
		}
	}
	src, err := openReadOnly(rowsFrom)
	if err != nil {
		return res, err
	}
	defer src.Close()
	ddl, err := eventsSchema(ctx, src)
	if err != nil {
		return res, err
	}
	rows, err := readRows(ctx, src)
	if err != nil {
		return res, err
	}
	if len(rows.Rows) != n {
		return res, fmt.Errorf("the 8-caller log holds %d rows, want %d", len(rows.Rows), n)
	}
	logf("ingest: ceiling (%d rows copied from %s, %d schema statements)", len(rows.Rows), filepath.Base(rowsFrom), len(ddl))
	if res.Ceiling, err = labeled(ctx, "ceiling", func(ctx context.Context) (ingestResult, error) {
		return benchCeiling(ctx, filepath.Join(dir, "ceiling.db"), ddl, rows, 1000)
	}); err != nil {
		return res, err
	}
	logf("  %.0f rows/s", res.Ceiling.Rate())
	logf("ingest: reference, 8 rows per transaction")
	if res.PerTx8, err = labeled(ctx, "per-tx-8", func(ctx context.Context) (ingestResult, error) {
		return benchCeiling(ctx, filepath.Join(dir, "per-tx-8.db"), ddl, rows, 8)
	}); err != nil {
		return res, err
	}
	logf("  %.0f rows/s", res.PerTx8.Rate())
	logf("ingest: naive baseline")
	if res.Naive, err = labeled(ctx, "naive", func(ctx context.Context) (ingestResult, error) {
		return benchNaive(ctx, filepath.Join(dir, "naive.db"), ddl, rows)
	}); err != nil {
		return res, err
	}
	logf("  %.0f rows/s", res.Naive.Rate())
	return res, nil
}
