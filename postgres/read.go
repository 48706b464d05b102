package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/internal/sqlcore"
)

// newest returns the highest Seq among the events of results, 0 for none.
func newest(results []sqlcore.Result[audit.Event]) int64 {
	var seq int64
	for _, r := range results {
		if r.Err == nil {
			seq = max(seq, r.Event.Seq)
		}
	}
	return seq
}

// appendResults turns the shared code's results into a Store's.
func appendResults(results []sqlcore.Result[audit.Event]) []audit.AppendResult {
	out := make([]audit.AppendResult, len(results))
	for i, r := range results {
		out[i] = audit.AppendResult{Event: r.Event, Err: r.Err}
		if r.Err != nil {
			out[i].Err = opErr("append", r.Err)
		}
	}
	return out
}

// readErr adds audit.ErrClosed to the errors of a closed store.
func (s *Store) readErr(err error) error {
	if s.closed.Load() || errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "sql: database is closed") {
		return fmt.Errorf("%w: %w", audit.ErrClosed, err)
	}
	return classify(err)
}

// readTx runs fn in a REPEATABLE READ, READ ONLY transaction: one snapshot,
// so that a page and its total agree.
func (s *Store) readTx(ctx context.Context, op string, fn func(tx *sqlx.Tx) error) error {
	if s.closed.Load() {
		return opErr(op, audit.ErrClosed)
	}
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return opErr(op, s.readErr(err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	if err := fn(tx); err != nil {
		return opErr(op, s.readErr(err))
	}
	return nil
}

// Get implements audit.Store.
func (s *Store) Get(ctx context.Context, scope audit.Filter, id string) (audit.Event, error) {
	op := fmt.Sprintf("get %q", id)
	if s.closed.Load() {
		return audit.Event{}, opErr(op, audit.ErrClosed)
	}
	e, err := s.core.Get(ctx, s.db, scope, id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return audit.Event{}, opErr(op, audit.ErrNotFound)
	case err != nil:
		return audit.Event{}, opErr(op, s.readErr(err))
	}
	return e, nil
}

// List implements audit.Store: the page and its total are read in one
// snapshot.
func (s *Store) List(ctx context.Context, f audit.Filter, before int64, offset, limit int) (events []audit.Event, total int64, err error) {
	err = s.readTx(ctx, "list", func(tx *sqlx.Tx) error {
		events, total, err = s.core.List(ctx, tx, f, before, offset, limit)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return events, total, nil
}

// Actions implements audit.Store.
func (s *Store) Actions(ctx context.Context, scope audit.Filter, prefix string, limit int) ([]audit.ActionCount, error) {
	if s.closed.Load() {
		return nil, opErr("actions", audit.ErrClosed)
	}
	all, err := s.core.Actions(ctx, s.db, scope, prefix, limit)
	if err != nil {
		return nil, opErr("actions", s.readErr(err))
	}
	out := make([]audit.ActionCount, len(all))
	for i, a := range all {
		out[i] = audit.ActionCount{Action: a.Action, Count: a.Count}
	}
	return out, nil
}

const sqlHead = `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`

// Head implements audit.Store.
func (s *Store) Head(ctx context.Context) (int64, []byte, error) {
	if s.closed.Load() {
		return 0, nil, opErr("head", audit.ErrClosed)
	}
	var seq int64
	var hash []byte
	err := s.db.QueryRowxContext(ctx, sqlHead).Scan(&seq, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil, nil
	case err != nil:
		return 0, nil, opErr("head", s.readErr(err))
	}
	return seq, hash, nil
}

// CheckDerived implements audit.DerivedChecker, in one snapshot. The shared
// recount walks two ordered reads side by side, which one PostgreSQL
// connection cannot interleave: it runs on two transactions that share a
// snapshot (pg_export_snapshot), each read on the other one than the read
// before it.
func (s *Store) CheckDerived(ctx context.Context) (problem string, err error) {
	if s.closed.Load() {
		return "", opErr("check derived tables", audit.ErrClosed)
	}
	err = s.readTx(ctx, "check derived tables", func(a *sqlx.Tx) error {
		var snapshot string
		if err := a.GetContext(ctx, &snapshot, `SELECT pg_export_snapshot()`); err != nil {
			return err
		}
		if !snapshotID.MatchString(snapshot) {
			return fmt.Errorf("unexpected snapshot id %q", snapshot)
		}
		b, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		if err != nil {
			return err
		}
		defer b.Rollback() //nolint:errcheck // read-only
		// SET TRANSACTION SNAPSHOT takes a literal only; its form is checked above.
		if _, err := b.ExecContext(ctx, `SET TRANSACTION SNAPSHOT '`+snapshot+`'`); err != nil {
			return err
		}
		problem, err = s.core.CheckDerived(ctx, &pairTx{Tx: a, other: b})
		return err
	})
	return problem, err
}

// snapshotID is the form of the ids pg_export_snapshot returns.
var snapshotID = regexp.MustCompile(`^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$`)

// pairTx is a read transaction over two transactions of one snapshot: each
// QueryxContext runs on the other one than the one before it, so that two
// of its reads can be open at once.
type pairTx struct {
	*sqlx.Tx
	other *sqlx.Tx
}

// QueryxContext runs query on one of the transactions, then swaps them.
func (p *pairTx) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	tx := p.Tx
	p.Tx, p.other = p.other, p.Tx
	return tx.QueryxContext(ctx, query, args...)
}

const sqlReadChain = `SELECT seq, id, tenant, action, actor_type, actor_id, actor_name,
	resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key,
	occurred_at, recorded_at, prev_hash, hash, hash_version
	FROM audit_events WHERE seq BETWEEN $1 AND $2 ORDER BY seq`

// chainTypes are the database types of the columns of sqlReadChain, as
// schema.sql makes them; text says which hold text (as BYTEA).
var chainTypes = [...]struct {
	name string
	text bool
}{
	{"INT8", false}, {"BYTEA", true}, {"BYTEA", true}, {"BYTEA", true}, // seq, id, tenant, action
	{"BYTEA", true}, {"BYTEA", true}, {"BYTEA", true}, // actor
	{"BYTEA", true}, {"BYTEA", true}, {"BYTEA", true}, // resource
	{"BYTEA", true}, {"BYTEA", true}, {"BYTEA", true}, {"BYTEA", true}, // targets, outcome, metadata, idempotency_key
	{"INT8", false}, {"INT8", false}, // occurred_at, recorded_at
	{"BYTEA", false}, {"BYTEA", false}, {"INT4", false}, // prev_hash, hash, hash_version
}

// ReadChain implements audit.Store. It reads through the driver directly,
// one row at a time, and hands each value over as the driver returns it
// (int64 for the integers, []byte for the hashes, nil for NULL), except the
// text columns, which PostgreSQL keeps as BYTEA: their bytes are handed over
// as a string, which is what they hold (Verify checks that it is UTF-8).
// Because a column's type is the table's, not the row's, it first checks
// that every column still has the type schema.sql gives it, and fails
// otherwise: a table altered under the log is not read as if it were not.
func (s *Store) ReadChain(ctx context.Context, from, to int64, fn func(audit.ChainEntry) error) error {
	if s.closed.Load() {
		return opErr("read chain", audit.ErrClosed)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return opErr("read chain", s.readErr(err))
	}
	defer conn.Close()
	var fnErr error
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver %T cannot query", dc)
		}
		rows, err := q.QueryContext(ctx, sqlReadChain, []driver.NamedValue{{Ordinal: 1, Value: from}, {Ordinal: 2, Value: to}})
		if err != nil {
			return err
		}
		defer rows.Close()
		if err := checkChainTypes(rows); err != nil {
			return err
		}
		v := make([]driver.Value, len(rows.Columns()))
		values := make([]any, len(v))
		for {
			if err := rows.Next(v); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			for i, x := range v {
				values[i] = x
				if b, ok := x.([]byte); ok && chainTypes[i].text {
					values[i] = string(b)
				}
			}
			if fnErr = fn(audit.ChainEntry{Values: values}); fnErr != nil {
				return fnErr
			}
		}
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return opErr("read chain", s.readErr(err))
	}
	return nil
}

// checkChainTypes checks the types of the columns rows returns against
// chainTypes.
func checkChainTypes(rows driver.Rows) error {
	typed, ok := rows.(driver.RowsColumnTypeDatabaseTypeName)
	if !ok {
		return fmt.Errorf("driver rows %T do not tell column types", rows)
	}
	cols := rows.Columns()
	if len(cols) != len(chainTypes) {
		return fmt.Errorf("%d columns, want %d", len(cols), len(chainTypes))
	}
	for i, c := range cols {
		if got := typed.ColumnTypeDatabaseTypeName(i); got != chainTypes[i].name {
			return fmt.Errorf("column %s of audit_events is %s, not %s as the schema makes it: the table was altered", c, got, chainTypes[i].name)
		}
	}
	return nil
}
