package sqlcore

import (
	"database/sql"
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
