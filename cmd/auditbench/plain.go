package main

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strconv"

	"github.com/trailkit/audit"
)

// plainNewestSQL is the baseline of a page of 50: the newest 50 rows of
// the table, every column, no total.
var plainNewestSQL = "SELECT * FROM audit_events ORDER BY seq DESC LIMIT " + strconv.Itoa(perPage)

// plainReaderDSN opens a log's file with the settings of the library's own
// reader pool (sqlite.go, openSQLite): read-only, the default busy timeout,
// query_only, a 16 MiB page cache.
func plainReaderDSN(path string) string {
	return "file:" + path + "?mode=ro&_pragma=busy_timeout(" + strconv.FormatInt(audit.DefaultBusyTimeout.Milliseconds(), 10) +
		")&_pragma=query_only(1)&_pragma=cache_size(-16384)"
}

// plainReader reads a log's file through database/sql directly, as an
// application that wrote its own SELECT would: the baselines of a page and
// of Verify.
type plainReader struct {
	db   *sql.DB
	stmt *sql.Stmt
}

// openPlainReader opens path with the library's reader settings and a
// pool as large as the library's default (max(4, CPUs) connections).
func openPlainReader(ctx context.Context, path string) (*plainReader, error) {
	db, err := sql.Open("sqlite", plainReaderDSN(path))
	if err != nil {
		return nil, err
	}
	n := max(4, runtime.NumCPU())
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	st, err := db.PrepareContext(ctx, plainNewestSQL)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("plain reader: %w", err)
	}
	return &plainReader{db: db, stmt: st}, nil
}

func (p *plainReader) Close() error {
	p.stmt.Close()
	return p.db.Close()
}

// newest reads the newest 50 rows, every column scanned into Go values
// (one []any per row, kept until the page is complete), by the statement
// prepared once or as text compiled on every call.
func (p *plainReader) newest(ctx context.Context, prepared bool) error {
	var rows *sql.Rows
	var err error
	if prepared {
		rows, err = p.stmt.QueryContext(ctx)
	} else {
		rows, err = p.db.QueryContext(ctx, plainNewestSQL)
	}
	if err != nil {
		return fmt.Errorf("plain newest: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	page := make([][]any, 0, perPage)
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("plain newest: %w", err)
		}
		page = append(page, vals)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("plain newest: %w", err)
	}
	if len(page) != perPage {
		return fmt.Errorf("plain newest: %d rows, want %d", len(page), perPage)
	}
	return nil
}

// fullScan reads every column of every row, oldest first, into Go values
// (one slice of destinations reused from row to row): Verify's baseline.
func (p *plainReader) fullScan(ctx context.Context, size int64) (memResult, error) {
	return measureMem(func() (int64, error) {
		rows, err := p.db.QueryContext(ctx, "SELECT * FROM audit_events ORDER BY seq")
		if err != nil {
			return 0, fmt.Errorf("plain scan: %w", err)
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return 0, err
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		var n int64
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return n, fmt.Errorf("plain scan: %w", err)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return n, fmt.Errorf("plain scan: %w", err)
		}
		if n != size {
			return n, fmt.Errorf("plain scan read %d rows of %d", n, size)
		}
		return n, nil
	})
}
