package postgres

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/internal/sqlcore"
)

// dialect is what PostgreSQL adds to the shared SQL (internal/sqlcore).
type dialect struct{}

var _ sqlcore.Dialect = dialect{}

// Rebind turns ? placeholders into $1, $2, ...
func (dialect) Rebind(query string) string { return sqlx.Rebind(sqlx.DOLLAR, query) }

// Args binds strings as bytes: every text column is BYTEA (see schema.sql).
// A Go string sent for a BYTEA parameter would go as text and be parsed
// as bytea's escape format, which turns backslashes into other bytes.
func (dialect) Args(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = textBytes(v)
		case sql.NullString:
			if v.Valid {
				out[i] = textBytes(v.String)
			} else {
				out[i] = []byte(nil)
			}
		default:
			out[i] = a
		}
	}
	return out
}

// textBytes returns s as bytes, never nil (nil binds NULL).
func textBytes(s string) []byte { return append(make([]byte, 0, len(s)), s...) }

// IndexedBy returns "": PostgreSQL's planner picks the index itself.
func (dialect) IndexedBy(string) string { return "" }

// Unindexed returns column: PostgreSQL has no such hint, nor needs it.
func (dialect) Unindexed(column string) string { return column }

// OrderedJoin joins table through a LATERAL subquery that OFFSET 0 keeps
// from being flattened: each row of the left side looks its matches up by
// index. A plain JOIN let the planner hash all of table (every ref of the
// tenant, for a suggestion), which grew with the log.
func (dialect) OrderedJoin(table, alias, on string) string {
	return "CROSS JOIN LATERAL (SELECT * FROM " + table + " " + alias + " WHERE " + on + " OFFSET 0) " + alias
}

// NotIn returns a NOT EXISTS over query, which the planner makes an
// anti-join: a NOT IN of a subquery too large for its hash would be
// evaluated row by row.
func (dialect) NotIn(row, cols []string, query string) string {
	match := make([]string, len(row))
	for i := range row {
		match[i] = "q." + cols[i] + " = " + row[i]
	}
	return "NOT EXISTS (SELECT 1 FROM (" + query + ") q WHERE " + strings.Join(match, " AND ") + ")"
}

// MaxText returns the greatest of expr's bytes through their hex text,
// which orders as the bytes do in the C collation: PostgreSQL has no max
// of BYTEA.
func (dialect) MaxText(expr string) string {
	return `decode(max(encode(` + expr + `, 'hex') COLLATE "C"), 'hex')`
}

// TargetsOf expands every event's targets with audit_targets_of (see
// schema.sql), which reads the canonical JSON into bytes, the escape
// \u0000 included (jsonb alone refuses it).
func (dialect) TargetsOf() string { return targetsOf }

const targetsOf = `SELECT e.tenant AS tenant, t.id AS id, t.type AS type, e.seq AS seq,
	e.resource_id AS resource_id, e.resource_type AS resource_type
	FROM audit_events e CROSS JOIN LATERAL audit_targets_of(e.targets) t WHERE e.targets IS NOT NULL`

// Classify adds audit.ErrDiskFull to errors of a full disk.
func (dialect) Classify(err error) error { return classify(err) }

// IsConstraint reports false: PostgreSQL aborts the whole transaction when
// a statement fails, so the shared code's fallback (redo the events of a
// statement that broke a constraint one by one, failing only the
// offenders) cannot run inside it. Nor is it needed: the only unique key
// is seq, taken under the head lock, and the columns take any row the
// library writes. A failed insert fails the whole append, and the Logger
// reports it to every caller of the batch; nothing is written.
func (dialect) IsConstraint(error) bool { return false }

// SQLSTATE codes the store acts on.
const (
	stateDiskFull      = "53100"
	stateSerialization = "40001"
	stateDeadlock      = "40P01"
)

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func classify(err error) error {
	if err == nil {
		return nil
	}
	if sqlState(err) == stateDiskFull {
		return fmt.Errorf("%w: %w", audit.ErrDiskFull, err)
	}
	return err
}

// retryable reports an append that the server rolled back and that can run
// again as it is: a serialization failure or a deadlock (neither should
// happen under the head lock, see doc.go), or a connection that failed
// before anything was sent.
func retryable(err error) bool {
	switch sqlState(err) {
	case stateSerialization, stateDeadlock:
		return true
	}
	return pgconn.SafeToRetry(err)
}

// coreStore is the shared SQL on PostgreSQL.
var coreStore = &sqlcore.Store[audit.Event]{Dialect: dialect{}, Codec: audit.SQLCodec()}
