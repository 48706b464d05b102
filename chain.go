package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// The hash chain.
//
// Every event carries Hash = SHA-256(PrevHash || Canonical(event)), where
// PrevHash is the Hash of the event with the previous Seq (32 zero bytes for
// Seq 1). Changing, removing, inserting or reordering any stored event
// breaks the chain at that event, which Verify reports. Checkpoints, kept
// outside the database, pin the head so that removing or rewriting the
// newest events is caught too.
//
// Canonical encoding, version 3 (written since schema migration 4; all
// integers big-endian; a string is its byte length as uint32 followed by
// its bytes; an optional string is the byte 0 when absent (NULL in the
// database), or the byte 1 followed by the string):
//
//	"audit.v2"                  8 bytes, the version tag
//	seq                         int64
//	id, tenant, action          strings
//	actor.type, .id, .name      strings
//	resource.type, .id, .name   strings
//	targets                     optional string: canonical JSON (see
//	                            canonjson.go), absent when there are none
//	outcome                     string
//	metadata                    optional string: canonical JSON, absent when
//	                            there is none
//	idempotency key             optional string, absent when there is none
//	occurred_at, recorded_at    int64 Unix nanoseconds
//	origin.ip, .user_agent,     optional strings, each absent when empty
//	  .request_id
//
// Version 2 (rows written by migrations 2 and 3) is version 3 with the tag
// "audit.v2" and without the origin, which it did not have.
//
// Version 1 (rows written before migration 2) differs from version 2 in
// three ways: the
// tag is "audit.v1"; targets, metadata and the idempotency key are plain
// strings, empty when absent; and its canonical JSON escapes < > & (as
// encoding/json does by default). Each row records its version in
// hash_version, and the version is inside what the hash covers, so a row
// cannot be moved from one to the other.
//
// What the hash covers is exactly what a query sees: a row has one valid
// stored form. Every text column holds valid UTF-8 as TEXT (never a BLOB of
// the same bytes, which SQLite compares differently), integers as INTEGER,
// hashes as 32-byte BLOBs, targets and metadata as NULL or as non-empty
// canonical JSON, the idempotency key as NULL or non-empty TEXT. An insert
// trigger refuses anything else, and Verify reports any row that is not in
// that form (see checkChainRow).

// HashSize is the size of an event hash.
const HashSize = sha256.Size

// Versions of the canonical encoding.
const (
	chainV1 = 1
	chainV2 = 2
	chainV3 = 3
	// chainVersion is the version the library writes.
	chainVersion = chainV3
)

var (
	canonicalTags = [...][]byte{chainV1: []byte("audit.v1"), chainV2: []byte("audit.v2"), chainV3: []byte("audit.v3")}
	genesisHash   = make([]byte, HashSize)
)

// jsonForms are the canonical JSON variants of each version.
var jsonForms = [...]jsonForm{chainV1: formV1, chainV2: formV2, chainV3: formV2}

// Canonical returns the canonical encoding of e (version 3, above), which
// its hash covers.
func Canonical(e Event) ([]byte, error) {
	targets, meta, err := canonicalJSON(e)
	if err != nil {
		return nil, err
	}
	return appendCanonical(make([]byte, 0, 256+len(targets)+len(meta)), chainVersion, e, targets, meta), nil
}

// appendCanonical appends the canonical encoding of e in version v, with
// targets and meta its canonical JSON ("" or nil for none).
func appendCanonical[T ~string | ~[]byte](b []byte, v int, e Event, targets, meta T) []byte {
	str := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	opt := func(s T) {
		if v >= chainV2 {
			if len(s) == 0 {
				b = append(b, 0)
				return
			}
			b = append(b, 1)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	ref := func(r Ref) { str(r.Type); str(r.ID); str(r.Name) }
	b = append(b, canonicalTags[v]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	str(e.ID)
	str(e.Tenant)
	str(e.Action)
	ref(e.Actor)
	ref(e.Resource)
	opt(targets)
	str(e.Outcome)
	opt(meta)
	opt(T(e.IdempotencyKey))
	b = binary.BigEndian.AppendUint64(b, uint64(e.OccurredAt.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.RecordedAt.UnixNano()))
	if v >= chainV3 {
		opt(T(e.Origin.IP))
		opt(T(e.Origin.UserAgent))
		opt(T(e.Origin.RequestID))
	}
	return b
}

// canonicalJSON encodes the targets and the metadata of e in the canonical
// JSON of the current version, nil when empty. These are also the stored
// forms. Metadata that is not in decoded form (as Logger.Record leaves it)
// is taken through encoding/json first.
func canonicalJSON(e Event) (targets, meta []byte, err error) {
	if len(e.Targets) > 0 {
		if targets, err = formV2.appendTargets(nil, e.Targets); err != nil {
			return nil, nil, fmt.Errorf("%w: targets: %w", ErrInvalidEvent, err)
		}
	}
	if len(e.Metadata) > 0 {
		meta, err = formV2.appendValue(nil, e.Metadata, 0)
		if errors.Is(err, errNotDecoded) {
			var v any
			if v, err = decodedValue(e.Metadata); err == nil {
				meta, err = formV2.appendValue(nil, v, 0)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: metadata: %w", ErrInvalidEvent, err)
		}
	}
	return targets, meta, nil
}

// decodedValue returns v as encoding/json decodes its encoding (numbers as
// json.Number).
func decodedValue(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := unmarshalNumber(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// DecodeCanonical is the inverse of Canonical, for either version.
func DecodeCanonical(b []byte) (Event, error) {
	v := 0
	for i, tag := range canonicalTags {
		if tag != nil && bytes.HasPrefix(b, tag) {
			v = i
		}
	}
	if v == 0 {
		return Event{}, errors.New("audit: canonical: unknown version")
	}
	d := decoder{b: b[len(canonicalTags[v]):], v: v}
	e := Event{ChainVersion: v}
	e.Seq = int64(d.u64())
	e.ID, e.Tenant, e.Action = d.str(), d.str(), d.str()
	e.Actor = Ref{Type: d.str(), ID: d.str(), Name: d.str()}
	e.Resource = Ref{Type: d.str(), ID: d.str(), Name: d.str()}
	targets := d.opt()
	e.Outcome = d.str()
	meta := d.opt()
	e.IdempotencyKey = d.opt()
	e.OccurredAt = time.Unix(0, int64(d.u64())).UTC()
	e.RecordedAt = time.Unix(0, int64(d.u64())).UTC()
	if v >= chainV3 {
		e.Origin = Origin{IP: d.opt(), UserAgent: d.opt(), RequestID: d.opt()}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return Event{}, opErr("canonical", d.err)
	}
	var c jsonChecker
	if targets != "" {
		if err := jsonForms[v].checkTargets(&c, targets); err != nil {
			return Event{}, opErr("canonical: targets", err)
		}
		if err := json.Unmarshal([]byte(targets), &e.Targets); err != nil {
			return Event{}, opErr("canonical: targets", err)
		}
	}
	if meta != "" {
		if err := jsonForms[v].checkMetadata(&c, meta); err != nil {
			return Event{}, opErr("canonical: metadata", err)
		}
		m, err := decodeMetadata(meta)
		if err != nil {
			return Event{}, opErr("canonical: metadata", err)
		}
		e.Metadata = m
	}
	return e, nil
}

type decoder struct {
	b   []byte
	v   int
	err error
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err = errors.New("truncated")
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) str() string { return string(d.take(uint64(d.u32()))) }

// opt reads an optional string: "" when absent.
func (d *decoder) opt() string {
	if d.v < chainV2 {
		return d.str()
	}
	flag := d.take(1)
	switch {
	case flag == nil:
		return ""
	case flag[0] == 0:
		return ""
	case flag[0] != 1:
		d.err = fmt.Errorf("optional flag %d", flag[0])
		return ""
	}
	s := d.str()
	if d.err == nil && s == "" {
		d.err = errors.New("an empty optional string is written as absent")
	}
	return s
}

// ChainHash returns the hash of e chained to prev (nil or empty for the
// first event): SHA-256(prev || Canonical(e)). A Store calls it when it
// appends.
func ChainHash(prev []byte, e Event) ([]byte, error) {
	targets, meta, err := canonicalJSON(e)
	if err != nil {
		return nil, err
	}
	var buf []byte
	sum := chainSum(&buf, chainVersion, prev, e, targets, meta)
	return sum[:], nil
}

// chainSum hashes prev and the canonical encoding of e in version v from
// one buffer (*buf, reused), without allocating.
func chainSum[T ~string | ~[]byte](buf *[]byte, v int, prev []byte, e Event, targets, meta T) [HashSize]byte {
	if len(prev) == 0 {
		prev = genesisHash
	}
	*buf = appendCanonical(append((*buf)[:0], prev...), v, e, targets, meta)
	return sha256.Sum256(*buf)
}

// chainColumns are the columns a Store's ReadChain hands over, in order.
const chainColumns = `seq, id, tenant, action, actor_type, actor_id, actor_name,
	resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key,
	occurred_at, recorded_at, prev_hash, hash, hash_version, origin_ip, origin_user_agent, origin_request_id`

// ChainColumns names the columns of a ChainEntry's Values, in order.
var ChainColumns = [...]string{"seq", "id", "tenant", "action", "actor_type", "actor_id", "actor_name",
	"resource_type", "resource_id", "resource_name", "targets", "outcome", "metadata", "idempotency_key",
	"occurred_at", "recorded_at", "prev_hash", "hash", "hash_version", "origin_ip", "origin_user_agent", "origin_request_id"}

// Indexes into ChainEntry.Values.
const (
	colSeq = iota
	colID
	colTenant
	colAction
	colActorType
	colActorID
	colActorName
	colResourceType
	colResourceID
	colResourceName
	colTargets
	colOutcome
	colMetadata
	colIdempotencyKey
	colOccurredAt
	colRecordedAt
	colPrevHash
	colHash
	colHashVersion
	colOriginIP
	colOriginUserAgent
	colOriginRequestID
	numChainColumns
)

// ChainEntry is one stored row of the log as a Store's ReadChain hands it
// over: the values of ChainColumns, in that order, exactly as the driver
// returns them (int64, float64, string, []byte or nil), with no conversion,
// so that Verify sees each value's storage class as a query does. fn may
// not keep Values after it returns.
type ChainEntry struct {
	Values []any
}

// storageClass names the storage class of a driver value.
func storageClass(v any) string {
	switch v.(type) {
	case nil:
		return "NULL"
	case int64:
		return "INTEGER"
	case float64:
		return "REAL"
	case string:
		return "TEXT"
	case []byte:
		return "BLOB"
	}
	return fmt.Sprintf("%T", v)
}

// chainRow is a stored row, checked and mapped by checkChainRow.
type chainRow struct {
	event          Event
	targets, meta  string // stored canonical JSON, "" for NULL
	version        int
	prevHash, hash []byte
	checker        jsonChecker // reused from row to row
}

// checkChainRow checks that the values of one stored row are in the one
// form the library writes (see the top of this file) and maps them into r.
// The error says what is wrong; r.event.Seq is set whenever the seq column
// is an integer.
func checkChainRow(values []any, r *chainRow) error {
	if len(values) != numChainColumns {
		return fmt.Errorf("%d columns, want %d", len(values), numChainColumns)
	}
	seq, ok := values[colSeq].(int64)
	if !ok {
		return fmt.Errorf("seq is stored as %s, not INTEGER", storageClass(values[colSeq]))
	}
	r.event = Event{Seq: seq}
	var err error
	// JSON columns are checked for UTF-8 with their canonical form, below.
	textOf := func(col int, json bool) string {
		if err != nil {
			return ""
		}
		s, ok := values[col].(string)
		switch {
		case !ok:
			err = fmt.Errorf("%s is stored as %s, not TEXT", ChainColumns[col], storageClass(values[col]))
		case !json && !utf8.ValidString(s):
			err = fmt.Errorf("%s is not valid UTF-8", ChainColumns[col])
		}
		return s
	}
	text := func(col int) string { return textOf(col, false) }
	optText := func(col int) string {
		if err != nil || values[col] == nil {
			return ""
		}
		s := textOf(col, col == colTargets || col == colMetadata)
		if err == nil && s == "" {
			err = fmt.Errorf("%s is an empty string, not NULL", ChainColumns[col])
		}
		return s
	}
	integer := func(col int) int64 {
		if err != nil {
			return 0
		}
		n, ok := values[col].(int64)
		if !ok {
			err = fmt.Errorf("%s is stored as %s, not INTEGER", ChainColumns[col], storageClass(values[col]))
		}
		return n
	}
	hash := func(col int) []byte {
		if err != nil {
			return nil
		}
		b, ok := values[col].([]byte)
		switch {
		case !ok:
			err = fmt.Errorf("%s is stored as %s, not BLOB", ChainColumns[col], storageClass(values[col]))
		case len(b) != HashSize:
			err = fmt.Errorf("%s is %d bytes, not %d", ChainColumns[col], len(b), HashSize)
		}
		return b
	}
	e := &r.event
	e.ID, e.Tenant, e.Action = text(colID), text(colTenant), text(colAction)
	e.Actor = Ref{Type: text(colActorType), ID: text(colActorID), Name: text(colActorName)}
	e.Resource = Ref{Type: text(colResourceType), ID: text(colResourceID), Name: text(colResourceName)}
	r.targets = optText(colTargets)
	e.Outcome = text(colOutcome)
	r.meta = optText(colMetadata)
	e.IdempotencyKey = optText(colIdempotencyKey)
	occurred, recorded := integer(colOccurredAt), integer(colRecordedAt)
	r.prevHash, r.hash = hash(colPrevHash), hash(colHash)
	version := integer(colHashVersion)
	e.Origin = Origin{IP: optText(colOriginIP), UserAgent: optText(colOriginUserAgent), RequestID: optText(colOriginRequestID)}
	if err != nil {
		return err
	}
	e.OccurredAt, e.RecordedAt = time.Unix(0, occurred).UTC(), time.Unix(0, recorded).UTC()
	switch {
	case version < chainV1 || version > chainV3:
		return fmt.Errorf("hash_version %d is unknown", version)
	case version < chainV3 && !e.Origin.IsZero():
		return fmt.Errorf("an origin on a row of hash_version %d, which has none", version)
	case e.ID == "":
		return errors.New("id is empty")
	case e.Outcome != OutcomeSuccess && e.Outcome != OutcomeFailure:
		return fmt.Errorf("outcome %q is neither %q nor %q", e.Outcome, OutcomeSuccess, OutcomeFailure)
	}
	r.version = int(version)
	if err := ValidateAction(e.Action); err != nil {
		return err
	}
	form := jsonForms[r.version]
	if r.targets != "" {
		if err := form.checkTargets(&r.checker, r.targets); err != nil {
			return fmt.Errorf("targets: %w", err)
		}
	}
	if r.meta != "" {
		if err := form.checkMetadata(&r.checker, r.meta); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
	}
	return nil
}
