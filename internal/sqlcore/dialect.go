package sqlcore

import (
	"context"

	"github.com/jmoiron/sqlx"
)

// Dialect is what a SQL store adds to the shared code.
type Dialect interface {
	// Rebind turns a query written with ? placeholders into the driver's.
	Rebind(query string) string
	// Args returns the values bound to a statement as the driver takes
	// them for the store's column types: SQLite's as they are;
	// PostgreSQL's text columns are BYTEA (TEXT cannot hold the byte
	// 0x00), so strings become bytes there. Every value the shared code
	// binds goes through it, as every query goes through Rebind.
	Args(args []any) []any
	// IndexedBy returns the clause that makes a read of audit_events use
	// index (SQLite's "INDEXED BY index"), or "" where the planner needs
	// no such help.
	IndexedBy(index string) string
	// Unindexed returns column written so that the planner uses no index
	// for the condition on it (SQLite's "+column"), or column itself.
	Unindexed(column string) string
	// OrderedJoin returns the join of table (as alias) on the condition on
	// that keeps the left side as the outer loop, each of its rows looking
	// its matches up by index: SQLite's "CROSS JOIN table alias ON on". The
	// left side is a few rows (candidates, typeahead pairs) and table is
	// large; a planner that would rather scan table must be kept from it.
	OrderedJoin(table, alias, on string) string
	// MaxText returns the aggregate of the greatest value of expr, a
	// text column (or an expression of one), in byte order, ignoring
	// NULLs: SQLite's max(expr). (PostgreSQL has no max of BYTEA.)
	MaxText(expr string) string
	// TargetsOf selects, for every target of every event (its element of
	// the targets JSON array), the columns tenant, id, type (each "" when
	// absent from the element), seq, resource_id and resource_type: what
	// CheckDerived rebuilds audit_targets from. (SQLite: json_each.)
	TargetsOf() string
	// NotIn returns the condition that the row value of the expressions
	// row is not among the rows of query, which selects the columns cols
	// (as many, in that order; no NULL on either side): SQLite's "(row)
	// NOT IN (query)", which reads query once into a temporary index and
	// looks each row up there, cheaper than a probe of the table's own
	// primary key for each; a NOT EXISTS where the planner makes that an
	// anti-join. For a small table (the refs) looked up once per event.
	NotIn(row, cols []string, query string) string
	// Classify adds the audit package's sentinels to a driver error (a
	// full disk, a closed database) and returns it; Classify(nil) is nil.
	Classify(err error) error
	// IsConstraint reports whether err (from an INSERT of events) is a
	// broken constraint, which fails only the events of that statement.
	IsConstraint(err error) bool
}

// Preparer prepares statements: a connection or a transaction.
type Preparer interface {
	PreparexContext(ctx context.Context, query string) (*sqlx.Stmt, error)
}

// Querier runs queries: a database, a connection or a transaction.
type Querier interface {
	sqlx.QueryerContext
	QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row
}

// ReadTx is a read transaction: pages and their totals are read in one, so
// that they agree.
type ReadTx interface {
	Querier
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

var (
	_ ReadTx  = (*sqlx.Tx)(nil)
	_ Querier = (*sqlx.DB)(nil)
)
