package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
	"github.com/trailkit/audit/internal/sqlcore"
)

// writeV1File writes events into a new file the way the library did before
// schema migration 2 (version 1 of the canonical encoding): schema
// migration 1 only, JSON from encoding/json's Marshal with its HTML
// escaping, hashes over "audit.v1". The encoding here is written out again
// on purpose, independently of chain.go, so that the test checks Verify
// against what old files really hold.
func writeV1File(t *testing.T, path string, events []Event) {
	t.Helper()
	ctx := t.Context()
	db, err := sqlx.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TABLE audit_schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, migrations()[0].SQL)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO audit_schema_migrations VALUES (1, 0)`)
	require.NoError(t, err)

	prev := make([]byte, 32)
	for i, e := range events {
		e.Seq = int64(i + 1)
		var targets, meta []byte
		if len(e.Targets) > 0 {
			targets, err = json.Marshal(e.Targets)
			require.NoError(t, err)
		}
		if len(e.Metadata) > 0 {
			// The old write path decoded the metadata and encoded it again.
			raw, err := json.Marshal(e.Metadata)
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, unmarshalNumber(raw, &m))
			meta, err = json.Marshal(m)
			require.NoError(t, err)
		}
		var b []byte
		str := func(s string) { b = binary.BigEndian.AppendUint32(b, uint32(len(s))); b = append(b, s...) }
		b = append(b, prev...)
		b = append(b, "audit.v1"...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
		for _, s := range []string{e.ID, e.Tenant, e.Action, e.Actor.Type, e.Actor.ID, e.Actor.Name, e.Resource.Type, e.Resource.ID, e.Resource.Name, string(targets), e.Outcome, string(meta), e.IdempotencyKey} {
			str(s)
		}
		b = binary.BigEndian.AppendUint64(b, uint64(e.OccurredAt.UnixNano()))
		b = binary.BigEndian.AppendUint64(b, uint64(e.RecordedAt.UnixNano()))
		sum := sha256.Sum256(b)
		null := func(s []byte) any {
			if len(s) == 0 {
				return nil
			}
			return string(s)
		}
		var key any
		if e.IdempotencyKey != "" {
			key = e.IdempotencyKey
		}
		_, err = db.ExecContext(ctx, `INSERT INTO audit_events (seq, id, tenant, action, actor_type, actor_id, actor_name,
			resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key,
			occurred_at, recorded_at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.ID, e.Tenant, e.Action, e.Actor.Type, e.Actor.ID, e.Actor.Name, e.Resource.Type, e.Resource.ID, e.Resource.Name,
			null(targets), e.Outcome, null(meta), key, e.OccurredAt.UnixNano(), e.RecordedAt.UnixNano(), prev, sum[:])
		require.NoError(t, err)
		for _, kv := range [][2]string{{"total", ""}, {"actor", e.Actor.ID}, {"resource", e.Resource.ID}, {"action", e.Action}} {
			_, err = db.ExecContext(ctx, `INSERT INTO audit_counts VALUES (?, ?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1`, e.Tenant, kv[0], kv[1])
			require.NoError(t, err)
		}
		for seg, term := range sqlcore.ActionTerms(e.Action) {
			_, err = db.ExecContext(ctx, `INSERT OR IGNORE INTO audit_action_terms VALUES (?, ?, ?, ?)`, e.Tenant, term, e.Action, seg)
			require.NoError(t, err)
		}
		prev = sum[:]
	}
}

// v1Events are events with everything that version 1's JSON wrote
// differently: HTML characters, U+2028, control characters, non-ASCII keys
// in sort order, numbers as written, nesting, empty target fields.
func v1Events() []Event {
	at := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	var out []Event
	for i := range 40 {
		out = append(out, Event{
			ID: fmt.Sprintf("id%03d", i), Tenant: []string{"", "acme", "<b>&co"}[i%3],
			Action:   []string{"billing.invoice.paid", "doc.<script>", "user.signed_in"}[i%3],
			Actor:    Ref{Type: "user", ID: fmt.Sprint(i % 4), Name: "Zoë <admin> & co"},
			Resource: Ref{Type: "doc", ID: fmt.Sprint(i)},
			Targets:  []Ref{{Type: "account", ID: "acct_<1>"}, {ID: "only-id"}, {}},
			Outcome:  []string{OutcomeSuccess, OutcomeFailure}[i%2],
			Metadata: map[string]any{
				"html": "<script>alert('x')</script> & \u2028\u2029", "ctl": "\x00\x01\b\f\n\r\t\x7f",
				"ü": 1, "a": json.Number("1e3"), "n": 1.5, "big": json.Number("12345678901234567890"),
				"nested": map[string]any{"z": []any{true, nil, "é"}, "Z": map[string]any{}},
			},
			IdempotencyKey: map[bool]string{true: fmt.Sprintf("key-%d", i)}[i%5 == 0],
			OccurredAt:     at.Add(time.Duration(i) * time.Second), RecordedAt: at.Add(time.Duration(i)*time.Second + time.Millisecond),
		})
	}
	return out
}

// queryShape names a shape of query for the table above.
type queryShape struct {
	action, actor, subject string
	failures               bool
}

// TestVersion1FilesStillVerify: a file written before migration 2 opens,
// migrates, verifies, reads back exactly, takes version 2 events after its
// version 1 ones, and still catches tampering with a version 1 row.
func TestVersion1FilesStillVerify(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v1.db")
	events := v1Events()
	writeV1File(t, path, events)

	l, err := Open(ctx, path)
	require.NoError(t, err)
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.Equal(t, VerifyReport{Checked: int64(len(events)), OK: true}, rep)

	got, err := l.WithTenant("acme").Get(ctx, "id001")
	require.NoError(t, err)
	require.Equal(t, events[1].Targets, got.Targets)
	require.Equal(t, "<script>alert('x')</script> & \u2028\u2029", got.Metadata["html"])
	require.Equal(t, json.Number("12345678901234567890"), got.Metadata["big"])

	// New events are version 2 and chain onto the old ones.
	for i := range 5 {
		_, err := l.WithTenant("acme").Track(ctx, nil, "doc.<script>", nil, WithMeta("html", "<&>"), WithMeta("i", i))
		require.NoError(t, err)
	}
	rep, err = l.Verify(ctx)
	require.NoError(t, err)
	require.Equal(t, VerifyReport{Checked: int64(len(events) + 5), OK: true}, rep)
	var versions []int
	require.NoError(t, l.Store().(*SQLiteStore).DB().SelectContext(ctx, &versions, `SELECT DISTINCT hash_version FROM audit_events ORDER BY 1`))
	require.Equal(t, []int{1, 3}, versions)
	// The tables of later migrations were filled from the old rows: every
	// total, across tenants too, and the catalogue.
	all := l.AllTenants()
	for q, want := range map[queryShape]int{
		{}: 45, {action: "doc.<script>"}: 18, {actor: "1"}: 10, {subject: "acct_<1>"}: 40, {failures: true}: 20,
	} {
		p, err := all.Recent(ctx, Query{Action: q.action, ActorID: q.actor, Subject: q.subject, Outcome: map[bool]string{true: OutcomeFailure}[q.failures], PerPage: 100})
		require.NoError(t, err)
		require.Equal(t, want, p.TotalCount, "%+v", q)
		require.Len(t, p.Entries, want, "%+v", q)
	}
	rep, err = l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	// An export of version 1 and version 3 rows verifies offline, each
	// under its own version.
	var buf bytes.Buffer
	n, err := all.Export(ctx, &buf, ExportJSONL, Query{})
	require.NoError(t, err)
	require.Equal(t, int64(45), n)
	rep, err = VerifyExport(&buf, nil)
	require.NoError(t, err)
	require.Equal(t, VerifyReport{Checked: 45, OK: true}, rep)
	require.NoError(t, l.Close())

	// A version 1 row re-laid out, or turned into version 2, is caught.
	for _, c := range []struct {
		name, sql string
		seq       int64
	}{
		{"relaid", `UPDATE audit_events SET metadata = replace(metadata, '\u003c', '<') WHERE seq = 3`, 3},
		{"version raised", `UPDATE audit_events SET hash_version = 2 WHERE seq = 3`, 3},
		{"version lowered", `UPDATE audit_events SET hash_version = 1 WHERE seq = 42`, 42},
	} {
		t.Run(c.name, func(t *testing.T) {
			copyPath := filepath.Join(t.TempDir(), "copy.db")
			l, err := Open(ctx, path)
			require.NoError(t, err)
			require.NoError(t, l.Backup(ctx, copyPath))
			require.NoError(t, l.Close())
			db, err := sqlx.Open("sqlite", "file:"+copyPath)
			require.NoError(t, err)
			_, err = db.ExecContext(ctx, `DROP TRIGGER audit_events_no_update; `+c.sql)
			require.NoError(t, err)
			require.NoError(t, db.Close())
			l, err = Open(context.Background(), copyPath)
			require.NoError(t, err)
			defer l.Close()
			rep, err := l.Verify(ctx)
			require.NoError(t, err)
			require.False(t, rep.OK)
			require.Equal(t, c.seq, rep.FirstBad, rep.Reason)
		})
	}
}
