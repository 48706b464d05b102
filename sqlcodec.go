package audit

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/trailkit/audit/internal/sqlcore"
)

// SQLCodec is how this package's events map to the rows of a SQL store, and
// how a row is hashed into the chain: what the SQL stores of this
// repository (the SQLite store here, the PostgreSQL store in module
// github.com/trailkit/audit/postgres) share through internal/sqlcore.
// Other programs have no use for it.
func SQLCodec() sqlcore.Codec[Event] { return eventCodec{} }

// eventCodec implements sqlcore.Codec for Event.
type eventCodec struct{}

var _ sqlcore.Codec[Event] = eventCodec{}

// Encode implements sqlcore.Codec: the columns of e, its targets and
// metadata in canonical JSON.
func (eventCodec) Encode(e Event) (sqlcore.Row, error) {
	targets, meta, err := canonicalJSON(e)
	if err != nil {
		return sqlcore.Row{}, err
	}
	r := sqlcore.Row{
		Seq: e.Seq, ID: e.ID, Tenant: e.Tenant, Action: e.Action,
		ActorType: e.Actor.Type, ActorID: e.Actor.ID, ActorName: e.Actor.Name,
		ResourceType: e.Resource.Type, ResourceID: e.Resource.ID, ResourceName: e.Resource.Name,
		Outcome: e.Outcome, OccurredAt: e.OccurredAt.UnixNano(), RecordedAt: e.RecordedAt.UnixNano(),
		PrevHash: e.PrevHash, Hash: e.Hash,
	}
	if len(targets) > 0 {
		r.Targets = sql.NullString{String: string(targets), Valid: true}
	}
	if len(meta) > 0 {
		r.Metadata = sql.NullString{String: string(meta), Valid: true}
	}
	r.IdempotencyKey = nullString(e.IdempotencyKey)
	r.OriginIP, r.OriginUserAgent, r.OriginRequestID = nullString(e.Origin.IP), nullString(e.Origin.UserAgent), nullString(e.Origin.RequestID)
	if len(e.Targets) > 0 {
		r.TargetRefs = make([]sqlcore.Ref, len(e.Targets))
		for i, t := range e.Targets {
			r.TargetRefs[i] = sqlcore.Ref(t)
		}
	}
	return r, nil
}

// nullString is s, NULL when empty.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// Decode implements sqlcore.Codec.
func (eventCodec) Decode(r *sqlcore.Row) (Event, error) {
	e := Event{
		Seq: r.Seq, ID: r.ID, Tenant: r.Tenant, Action: r.Action,
		Actor:      Ref{Type: r.ActorType, ID: r.ActorID, Name: r.ActorName},
		Resource:   Ref{Type: r.ResourceType, ID: r.ResourceID, Name: r.ResourceName},
		Outcome:    r.Outcome,
		OccurredAt: time.Unix(0, r.OccurredAt).UTC(),
		RecordedAt: time.Unix(0, r.RecordedAt).UTC(),
		PrevHash:   r.PrevHash, Hash: r.Hash,
	}
	if r.Targets.Valid {
		// Into a variable of its own: &e.Targets would move e to the heap.
		var targets []Ref
		if err := json.Unmarshal([]byte(r.Targets.String), &targets); err != nil {
			return Event{}, opErr(fmt.Sprintf("event %d: targets", r.Seq), err)
		}
		e.Targets = targets
	}
	if r.Metadata.Valid {
		m, err := decodeMetadata(r.Metadata.String)
		if err != nil {
			return Event{}, opErr(fmt.Sprintf("event %d: metadata", r.Seq), err)
		}
		e.Metadata = m
	}
	e.IdempotencyKey = r.IdempotencyKey.String
	e.Origin = Origin{IP: r.OriginIP.String, UserAgent: r.OriginUserAgent.String, RequestID: r.OriginRequestID.String}
	e.ChainVersion = r.HashVersion
	return e, nil
}

// Stamp implements sqlcore.Codec.
func (eventCodec) Stamp(e Event, r *sqlcore.Row) Event {
	e.Seq, e.RecordedAt, e.PrevHash, e.Hash, e.ChainVersion = r.Seq, time.Unix(0, r.RecordedAt).UTC(), r.PrevHash, r.Hash, r.HashVersion
	return e
}

// Hash implements sqlcore.Codec: the hash of the current version of the
// canonical encoding.
func (eventCodec) Hash(buf *[]byte, r *sqlcore.Row) []byte {
	r.HashVersion = chainVersion
	e := Event{
		Seq: r.Seq, ID: r.ID, Tenant: r.Tenant, Action: r.Action,
		Actor:          Ref{Type: r.ActorType, ID: r.ActorID, Name: r.ActorName},
		Resource:       Ref{Type: r.ResourceType, ID: r.ResourceID, Name: r.ResourceName},
		Outcome:        r.Outcome,
		IdempotencyKey: r.IdempotencyKey.String,
		OccurredAt:     time.Unix(0, r.OccurredAt), RecordedAt: time.Unix(0, r.RecordedAt),
		Origin: Origin{IP: r.OriginIP.String, UserAgent: r.OriginUserAgent.String, RequestID: r.OriginRequestID.String},
	}
	sum := chainSum(buf, chainVersion, r.PrevHash, e, r.Targets.String, r.Metadata.String)
	return sum[:]
}
