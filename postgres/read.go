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
func (s *Store) List(ctx context.Context, f audit.Filter, cursor int64, offset, limit int) (events []audit.Event, total int64, err error) {
	err = s.readTx(ctx, "list", func(tx *sqlx.Tx) error {
		events, total, err = s.core.List(ctx, tx, f, cursor, offset, limit)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return events, total, nil
}

// Range implements audit.Store, in one snapshot.
func (s *Store) Range(ctx context.Context, f audit.Filter, cursor int64, limit int) (events []audit.Event, through int64, err error) {
	err = s.readTx(ctx, "range", func(tx *sqlx.Tx) error {
		events, through, err = s.core.Range(ctx, tx, f, cursor, limit)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return events, through, nil
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

// Suggest implements audit.Store.
func (s *Store) Suggest(ctx context.Context, scope audit.Filter, term string, limit int) ([]audit.Suggestion, error) {
	if s.closed.Load() {
		return nil, opErr("suggest", audit.ErrClosed)
	}
	found, err := s.core.Suggest(ctx, s.db, scope, term, limit)
	if err != nil {
		return nil, opErr("suggest", s.readErr(err))
	}
	out := make([]audit.Suggestion, len(found))
	for i, sg := range found {
		out[i] = audit.Suggestion(sg)
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
// recount walks two ordered reads side by side, and looks rows up while it
// walks one, which one PostgreSQL connection cannot interleave: it runs on
// two REPEATABLE READ transactions that share a snapshot
// (pg_export_snapshot), so that every check, whichever transaction runs
// it, sees the same log and the same derived tables (see pairTx).
func (s *Store) CheckDerived(ctx context.Context) (problem string, err error) {
	if s.closed.Load() {
		return "", opErr("check derived tables", audit.ErrClosed)
	}
	// Two recounts at once, each holding one connection while it waits
	// for its second, could wait for ever on a small pool.
	s.recount.Lock()
	defer s.recount.Unlock()
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
// of its reads can be open at once, and QueryRowxContext and SelectContext
// (lookups, which may come while a read is open) on the one the latest
// QueryxContext did not take. The shared recount never holds more than two
// reads open, and never looks up while it holds two.
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

// sqlReadChain reads the columns audit.ChainColumns names, in its order.
var sqlReadChain = `SELECT ` + strings.Join(audit.ChainColumns[:], ", ") +
	` FROM audit_events WHERE seq BETWEEN $1 AND $2 ORDER BY seq`

// chainType is the database type of a column of sqlReadChain, as
// schema.sql makes it; text says that it holds text (as BYTEA).
type chainType struct {
	name string
	text bool
}

// chainTypes are the types of the columns of sqlReadChain, in its order:
// every column text but the integers and the hashes.
var chainTypes = func() []chainType {
	types := make([]chainType, len(audit.ChainColumns))
	for i, c := range audit.ChainColumns {
		switch c {
		case "seq", "occurred_at", "recorded_at":
			types[i] = chainType{"INT8", false}
		case "hash_version":
			types[i] = chainType{"INT4", false}
		case "prev_hash", "hash":
			types[i] = chainType{"BYTEA", false}
		default:
			types[i] = chainType{"BYTEA", true}
		}
	}
	return types
}()

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
