package sqlcore

import (
	"database/sql"
	"fmt"
)

// Columns are the columns of an event that reads select, in the order of
// Row.Dest.
const Columns = `seq, id, tenant, action, actor_type, actor_id, actor_name,
	resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key,
	occurred_at, recorded_at, prev_hash, hash, origin_ip, origin_user_agent, origin_request_id, hash_version`

// Row is an event as stored: its columns. Targets and Metadata hold the
// canonical JSON the chain covers (invalid for none); times are Unix
// nanoseconds.
type Row struct {
	Seq                                    int64
	ID, Tenant, Action                     string
	ActorType, ActorID, ActorName          string
	ResourceType, ResourceID, ResourceName string
	Targets                                sql.NullString
	Outcome                                string
	Metadata, IdempotencyKey               sql.NullString
	OccurredAt, RecordedAt                 int64
	PrevHash, Hash                         []byte
	// The request the event came from; invalid when absent.
	OriginIP, OriginUserAgent, OriginRequestID sql.NullString
	// HashVersion is the version of the canonical encoding Hash covers.
	HashVersion int
	// TargetRefs are the targets of Targets, decoded: the codec fills them
	// on Encode so that counting them needs no JSON.
	TargetRefs []Ref
}

// Ref is an actor, resource or target: what the catalogue holds.
type Ref struct{ Type, ID, Name string }

// Dest returns pointers to the fields, in the order of Columns, for Scan.
func (r *Row) Dest() []any {
	return []any{&r.Seq, &r.ID, &r.Tenant, &r.Action, &r.ActorType, &r.ActorID, &r.ActorName,
		&r.ResourceType, &r.ResourceID, &r.ResourceName, &r.Targets, &r.Outcome, &r.Metadata,
		&r.IdempotencyKey, &r.OccurredAt, &r.RecordedAt, &r.PrevHash, &r.Hash,
		&r.OriginIP, &r.OriginUserAgent, &r.OriginRequestID, &r.HashVersion}
}

// insertArgs returns the values of an INSERT of sqlInsert's columns.
func (r *Row) insertArgs() []any {
	return []any{r.Seq, r.ID, r.Tenant, r.Action, r.ActorType, r.ActorID, r.ActorName,
		r.ResourceType, r.ResourceID, r.ResourceName, r.Targets, r.Outcome, r.Metadata,
		r.IdempotencyKey, r.OccurredAt, r.RecordedAt, r.PrevHash, r.Hash, r.HashVersion,
		r.OriginIP, r.OriginUserAgent, r.OriginRequestID}
}

// Scanner is what Scan reads a row from (*sql.Row, *sql.Rows and sqlx's).
type Scanner interface{ Scan(dest ...any) error }

// rowScan scans rows into a Row as Scan(r.Dest()...) does, with fewer
// conversions: database/sql converts an integer into an *int64 or *int by
// reflection (and into an *int through its decimal text), and a value
// into an *sql.NullString through its Scan method, so those columns are
// scanned into interfaces and converted here, directly for the values
// drivers give (int64; string or nil) and as database/sql would for any
// other.
type rowScan struct {
	r    *Row
	dest []any
	ints [4]any // seq, occurred_at, recorded_at, hash_version
	strs [6]any // targets, metadata, idempotency_key, origin_ip, origin_user_agent, origin_request_id
}

func newRowScan(r *Row) *rowScan {
	s := &rowScan{r: r, dest: r.Dest()}
	for i, at := range [...]int{0, 14, 15, 21} {
		s.dest[at] = &s.ints[i]
	}
	for i, at := range [...]int{10, 12, 13, 18, 19, 20} {
		s.dest[at] = &s.strs[i]
	}
	return s
}

// scan reads the current row of rows into the Row.
func (s *rowScan) scan(rows Scanner) error {
	if err := rows.Scan(s.dest...); err != nil {
		return err
	}
	r := s.r
	var hashVersion int64
	for i, dst := range [...]*int64{&r.Seq, &r.OccurredAt, &r.RecordedAt, &hashVersion} {
		if err := scanInt(s.ints[i], dst); err != nil {
			return fmt.Errorf("sql: Scan error on column index %d: %w", [...]int{0, 14, 15, 21}[i], err)
		}
	}
	r.HashVersion = int(hashVersion)
	for i, dst := range [...]*sql.NullString{&r.Targets, &r.Metadata, &r.IdempotencyKey, &r.OriginIP, &r.OriginUserAgent, &r.OriginRequestID} {
		if err := scanNullString(s.strs[i], dst); err != nil {
			return fmt.Errorf("sql: Scan error on column index %d: %w", [...]int{10, 12, 13, 18, 19, 20}[i], err)
		}
	}
	return nil
}

// scanInt stores v, a value that database/sql scanned into an *any, in
// dst: an int64 as is, anything else as database/sql would (NULL is an
// error).
func scanInt(v any, dst *int64) error {
	if n, ok := v.(int64); ok {
		*dst = n
		return nil
	}
	var n sql.NullInt64
	if err := n.Scan(v); err != nil {
		return err
	}
	if !n.Valid {
		return fmt.Errorf("converting NULL to int64 is unsupported")
	}
	*dst = n.Int64
	return nil
}

// scanNullString stores v, a value that database/sql scanned into an
// *any, in dst as dst.Scan would.
func scanNullString(v any, dst *sql.NullString) error {
	switch x := v.(type) {
	case string:
		*dst = sql.NullString{String: x, Valid: true}
	case nil:
		*dst = sql.NullString{}
	default:
		return dst.Scan(v)
	}
	return nil
}
