package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// sqlite3Shell returns the path of the sqlite3 command-line shell. CI must
// have it (.ci/run installs it); elsewhere the test is skipped without it.
func sqlite3Shell(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sqlite3 shell not installed (.ci/run installs it)")
		}
		t.Skip("sqlite3 shell not installed")
	}
	return bin
}

// shell runs SQL on the file with the sqlite3 command-line shell, as
// someone tampering with the file would.
func shell(t *testing.T, path, sql string) string {
	t.Helper()
	out, err := exec.Command(sqlite3Shell(t), "-bail", path, sql).CombinedOutput()
	require.NoError(t, err, "%s: %s", sql, out)
	return strings.TrimSpace(string(out))
}

const dropTriggers = `DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; DROP TRIGGER audit_events_insert;`

// recount is what a tamperer who knows the schema runs after removing
// events: the derived tables rebuilt to agree with what is left.
const recount = `DELETE FROM audit_counts; DELETE FROM audit_refs; DELETE FROM audit_targets; DELETE FROM audit_ref_terms;
INSERT INTO audit_counts SELECT tenant, 'total', '', count(*) FROM audit_events GROUP BY tenant;
INSERT INTO audit_counts SELECT tenant, 'action', action, count(*) FROM audit_events GROUP BY tenant, action;
INSERT INTO audit_counts SELECT tenant, 'failure', '', count(*) FROM audit_events WHERE outcome = 'failure' GROUP BY tenant;
INSERT INTO audit_targets SELECT DISTINCT e.tenant, json_extract(j.value, '$.id'), json_extract(j.value, '$.type'), e.seq
	FROM audit_events e, json_each(e.targets) j
	WHERE NOT (json_extract(j.value, '$.id') = e.resource_id AND json_extract(j.value, '$.type') = e.resource_type);
INSERT INTO audit_counts SELECT t.tenant, 'target', t.id, count(DISTINCT t.seq) FROM audit_targets t JOIN audit_events e ON e.seq = t.seq
	WHERE t.id <> e.resource_id GROUP BY t.tenant, t.id;
INSERT INTO audit_refs SELECT tenant, 'actor', actor_id, actor_type, actor_name, count(*), 0 FROM audit_events GROUP BY tenant, actor_id, actor_type;
INSERT INTO audit_refs SELECT tenant, 'resource', resource_id, resource_type, resource_name, count(*), 0 FROM audit_events GROUP BY tenant, resource_id, resource_type;
INSERT INTO audit_refs SELECT tenant, 'target', id, type, '', count(*), 0 FROM audit_targets GROUP BY tenant, id, type;
INSERT OR IGNORE INTO audit_ref_terms SELECT tenant, lower(id), CASE kind WHEN 'actor' THEN 'actor' ELSE 'resource' END, id, type FROM audit_refs WHERE id <> '';
INSERT OR IGNORE INTO audit_ref_terms SELECT tenant, lower(name), CASE kind WHEN 'actor' THEN 'actor' ELSE 'resource' END, id, type FROM audit_refs WHERE name <> '';
DELETE FROM audit_action_terms WHERE (tenant, action) NOT IN (SELECT tenant, key FROM audit_counts WHERE kind = 'action');
UPDATE audit_fold SET seq = (SELECT coalesce(max(seq), 0) FROM audit_events);`

// chainLog writes n events across tenants into a new file and closes it.
func chainLog(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	l, err := audit.Open(t.Context(), path)
	require.NoError(t, err)
	for i := 1; i <= n; i++ {
		_, err := l.WithTenant([]string{"", "acme", "globex"}[i%3]).Track(t.Context(),
			audit.Ref{Type: "user", ID: fmt.Sprint(i % 4), Name: "U"}, fmt.Sprintf("doc.%d", i%5), audit.Ref{Type: "doc", ID: fmt.Sprint(i)},
			audit.WithMetadata(map[string]any{"i": i, "b": "x", "a": []any{1, "two"}}),
			audit.WithTargets(audit.Ref{Type: "t", ID: "1"}))
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	return path
}

func verify(t *testing.T, path string, cps ...audit.Checkpoint) audit.VerifyReport {
	t.Helper()
	l, err := audit.Open(context.Background(), path)
	require.NoError(t, err)
	defer l.Close()
	rep, err := l.Verify(t.Context(), cps...)
	require.NoError(t, err)
	return rep
}

func TestVerifyIntact(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, _ := setup(t)
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{OK: true}, rep, "an empty log verifies")
	cp0, err := l.Checkpoint(ctx)
	require.NoError(t, err)
	require.Zero(t, cp0.Seq)
	text0, err := cp0.MarshalText()
	require.NoError(t, err)
	require.NoError(t, cp0.UnmarshalText(text0), "an empty log's checkpoint round-trips: %s", text0)

	var last audit.Event
	for i := range 300 {
		last, err = l.WithTenant(fmt.Sprint(i%3)).Track(ctx, nil, "chain.test", nil, audit.WithMeta("i", i))
		require.NoError(t, err)
		require.Len(t, last.Hash, audit.HashSize)
	}
	first, err := l.WithTenant("0").Get(ctx, mustFirstID(t, l.WithTenant("0")))
	require.NoError(t, err)
	require.Equal(t, make([]byte, audit.HashSize), first.PrevHash, "seq 1 chains to 32 zero bytes")

	cp, err := l.Checkpoint(ctx)
	require.NoError(t, err)
	require.Equal(t, last.Seq, cp.Seq)
	require.Equal(t, last.Hash, cp.Hash)
	rep, err = l.WithTenant("anyone").Verify(ctx, cp0, cp)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 300, OK: true}, rep)

	// The hash is what ChainHash computes from the event and its
	// predecessor's hash.
	h, err := audit.ChainHash(last.PrevHash, last)
	require.NoError(t, err)
	require.Equal(t, last.Hash, h)
}

func mustFirstID(t *testing.T, l *audit.Logger) string {
	p, err := l.Recent(t.Context(), audit.Query{PerPage: 1000})
	require.NoError(t, err)
	for _, e := range p.Entries {
		if e.Seq == 1 {
			return e.ID
		}
	}
	t.Fatal("seq 1 not in tenant")
	return ""
}

// TestTampering changes the file with the sqlite3 shell, after dropping the
// triggers, and checks that Verify names the first bad seq.
func TestTampering(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		sql      string
		firstBad int64
		reason   string
	}{
		{"changed action", `UPDATE audit_events SET action = 'doc.harmless' WHERE seq = 7`, 7, "altered"},
		{"changed metadata", `UPDATE audit_events SET metadata = '{"a":[1,"two"],"b":"y","i":5}' WHERE seq = 5`, 5, "altered"},
		{"changed time", `UPDATE audit_events SET occurred_at = occurred_at + 1 WHERE seq = 3`, 3, "altered"},
		{"changed tenant", `UPDATE audit_events SET tenant = 'acme' WHERE seq = 9`, 9, "altered"},
		{"changed actor name", `UPDATE audit_events SET actor_name = 'V' WHERE seq = 1`, 1, "altered"},
		{"changed outcome", `UPDATE audit_events SET outcome = 'failure' WHERE seq = 19`, 19, "altered"},
		{"changed targets", `UPDATE audit_events SET targets = '[{"type":"t","id":"2"}]' WHERE seq = 11`, 11, "altered"},
		{"added idempotency key", `UPDATE audit_events SET idempotency_key = 'k' WHERE seq = 13`, 13, "altered"},
		{"changed id", `UPDATE audit_events SET id = 'other' WHERE seq = 2`, 2, "altered"},
		{"recomputed-looking hash", `UPDATE audit_events SET hash = randomblob(32) WHERE seq = 4`, 4, "altered"},
		{"broken link", `UPDATE audit_events SET prev_hash = randomblob(32) WHERE seq = 15`, 15, "broken link"},
		{"emptied targets", `UPDATE audit_events SET targets = '' WHERE seq = 8`, 8, "malformed"},
		{"corrupt metadata", `UPDATE audit_events SET metadata = '{not json' WHERE seq = 6`, 6, "malformed"},
		// The same bytes in another storage class: a BLOB never equals
		// the TEXT a query binds, so the row would vanish from reads.
		{"tenant as blob", `UPDATE audit_events SET tenant = CAST(tenant AS BLOB) WHERE seq = 3`, 3, "tenant is stored as BLOB, not TEXT"},
		{"id as blob", `UPDATE audit_events SET id = CAST(id AS BLOB) WHERE seq = 4`, 4, "id is stored as BLOB"},
		{"action as blob", `UPDATE audit_events SET action = CAST(action AS BLOB) WHERE seq = 5`, 5, "action is stored as BLOB"},
		{"actor id as blob", `UPDATE audit_events SET actor_id = CAST(actor_id AS BLOB) WHERE seq = 6`, 6, "actor_id is stored as BLOB"},
		{"resource id as blob", `UPDATE audit_events SET resource_id = CAST(resource_id AS BLOB) WHERE seq = 7`, 7, "resource_id is stored as BLOB"},
		{"metadata as blob", `UPDATE audit_events SET metadata = CAST(metadata AS BLOB) WHERE seq = 8`, 8, "metadata is stored as BLOB"},
		{"targets as blob", `UPDATE audit_events SET targets = CAST(targets AS BLOB) WHERE seq = 9`, 9, "targets is stored as BLOB"},
		{"outcome as blob", `UPDATE audit_events SET outcome = CAST(outcome AS BLOB) WHERE seq = 10`, 10, "outcome is stored as BLOB"},
		// (INTEGER affinity turns text or a real that reads as the same
		// integer back into that integer: those are no change.)
		{"time as text", `UPDATE audit_events SET occurred_at = occurred_at || 'x' WHERE seq = 11`, 11, "occurred_at is stored as TEXT"},
		{"time as real", `UPDATE audit_events SET recorded_at = 0.5 WHERE seq = 12`, 12, "recorded_at is stored as REAL"},
		{"hash as text", `UPDATE audit_events SET hash = CAST(hash AS TEXT) WHERE seq = 13`, 13, "hash is stored as TEXT"},
		{"hash as null", `UPDATE audit_events SET hash = NULL WHERE seq = 14`, 14, "hash is stored as NULL"},
		{"idempotency key as empty text", `UPDATE audit_events SET idempotency_key = '' WHERE seq = 15`, 15, "idempotency_key is an empty string"},
		{"hash version changed", `UPDATE audit_events SET hash_version = 1 WHERE seq = 16`, 16, "altered"},
		{"hash version unknown", `UPDATE audit_events SET hash_version = 9 WHERE seq = 16`, 16, "hash_version 9"},
		{"origin added to a row", `UPDATE audit_events SET origin_ip = '203.0.113.9' WHERE seq = 17`, 17, "altered"},
		{"origin as blob", `UPDATE audit_events SET origin_ip = CAST('x' AS BLOB) WHERE seq = 17`, 17, "origin_ip is stored as BLOB"},
		// Stored JSON in any other form than the one the library writes.
		{"metadata with bytes after it", `UPDATE audit_events SET metadata = metadata || ' {"approved_by":"CFO"}' WHERE seq = 2`, 2, "bytes after the value"},
		{"metadata with a duplicate key", `UPDATE audit_events SET metadata = '{"a":[1,"two"],"b":"x","i":1,"i":2}' WHERE seq = 2`, 2, "repeated or out of order"},
		{"metadata re-laid out", `UPDATE audit_events SET metadata = '{ "i" : 2, "b": "x", "a": [ 1, "two" ] }' WHERE seq = 2`, 2, "malformed"},
		{"metadata keys reordered", `UPDATE audit_events SET metadata = '{"i":2,"b":"x","a":[1,"two"]}' WHERE seq = 2`, 2, "repeated or out of order"},
		{"metadata escaped differently", `UPDATE audit_events SET metadata = '{"a":[1,"tw\u006f"],"b":"x","i":2}' WHERE seq = 2`, 2, "escape"},
		{"unknown target field", `UPDATE audit_events SET targets = '[{"type":"t","id":"1","admin":"yes"}]' WHERE seq = 2`, 2, "unknown, repeated or out of order"},
		{"empty target field written", `UPDATE audit_events SET targets = '[{"type":"t","id":"1","name":""}]' WHERE seq = 2`, 2, "empty target field"},
		{"deleted row", `DELETE FROM audit_events WHERE seq = 12`, 12, "missing"},
		{"deleted rows", `DELETE FROM audit_events WHERE seq BETWEEN 4 AND 8`, 4, "missing"},
		{"deleted first row", `DELETE FROM audit_events WHERE seq = 1`, 1, "missing"},
		{"forged row appended", `INSERT INTO audit_events (seq, id, action, occurred_at, recorded_at, prev_hash, hash)
			SELECT 21, 'forged', 'doc.forged', occurred_at, recorded_at, hash, randomblob(32) FROM audit_events WHERE seq = 20`, 21, "altered"},
		{"forged row copied", `INSERT INTO audit_events (seq, id, tenant, action, actor_type, actor_id, actor_name, resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key, occurred_at, recorded_at, prev_hash, hash)
			SELECT 21, id || 'x', tenant, action, actor_type, actor_id, actor_name, resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key, occurred_at, recorded_at, prev_hash, hash FROM audit_events WHERE seq = 20`, 21, "broken link"},
		{"forged row before the chain", `INSERT INTO audit_events (seq, id, action, occurred_at, recorded_at, prev_hash, hash)
			SELECT -1, id, 'doc.forged', occurred_at, recorded_at, prev_hash, hash FROM audit_events WHERE seq = 5`, 1, "before the chain"},
		{"forged row at seq 0", `INSERT INTO audit_events (seq, id, action, occurred_at, recorded_at) VALUES (0, 'zero', 'doc.forged', 0, 0)`, 1, "before the chain"},
		{"forged row past a gap", `INSERT INTO audit_events (seq, id, action, occurred_at, recorded_at) VALUES (40, 'far', 'doc.forged', 0, 0)`, 21, "missing"},
		{"reordered rows", `UPDATE audit_events SET seq = 100 WHERE seq = 8; UPDATE audit_events SET seq = 8 WHERE seq = 9; UPDATE audit_events SET seq = 9 WHERE seq = 100`, 8, "broken link"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := chainLog(t, 20)
			require.Equal(t, audit.VerifyReport{Checked: 20, OK: true}, verify(t, path))
			shell(t, path, dropTriggers+c.sql)
			rep := verify(t, path)
			require.False(t, rep.OK, c.name)
			require.Equal(t, c.firstBad, rep.FirstBad, "%s: %s", c.name, rep.Reason)
			require.Contains(t, rep.Reason, c.reason)
			if c.reason != "before the chain" {
				require.Equal(t, c.firstBad-1, rep.Checked)
			}
		})
	}
}

// TestVerifyRefusesAnyOtherJSONLayout replaces TestVerifyIgnoresJSONLayout:
// stored JSON has one form, and the same content laid out otherwise is a
// change (the shell's json_extract and Go could read other values).
func TestVerifyRefusesAnyOtherJSONLayout(t *testing.T) {
	t.Parallel()
	path := chainLog(t, 5)
	shell(t, path, dropTriggers+`UPDATE audit_events SET metadata = '{ "i" : 2, "b": "x",
		"a": [ 1, "two" ] }' WHERE seq = 2`)
	rep := verify(t, path)
	require.False(t, rep.OK)
	require.Equal(t, int64(2), rep.FirstBad, rep.Reason)
	require.Contains(t, rep.Reason, "not canonical JSON")
}

// TestVerifyRecountsDerivedTables: the totals and the typeahead catalogue
// are checked against the log, so editing them cannot hide events.
func TestVerifyRecountsDerivedTables(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, sql, reason string }{
		{"catalogue row deleted", `DELETE FROM audit_action_terms WHERE action = 'doc.3' AND tenant = ''`, `lacks term "doc.3"`},
		{"catalogue row added", `INSERT INTO audit_action_terms VALUES ('', 'x', 'doc.3', 9)`, `does not have`},
		{"stray catalogue row", `INSERT INTO audit_action_terms VALUES ('', 'zz', 'zz', 0)`, `which has no events`},
		{"total lowered", `UPDATE audit_counts SET n = n - 1 WHERE kind = 'total' AND tenant = 'acme'`, `total`},
		{"actor counter deleted", `DELETE FROM audit_refs WHERE kind = 'actor' AND id = '1' AND tenant = 'acme'`, `audit_refs has no row for actor "1" of type "user" in tenant "acme"`},
		{"action counter deleted", `DELETE FROM audit_counts WHERE kind = 'action' AND key = 'doc.1' AND tenant = 'acme'`, `audit_counts has no row for action "doc.1"`},
		{"resource counter added", `INSERT INTO audit_refs VALUES ('', 'resource', 'ghost', 'doc', '', 1, 0)`, `resource "ghost" of type "doc" in tenant "", which has none`},
		{"failure counter added", `INSERT INTO audit_counts VALUES ('globex', 'failure', '', 3)`, `failure "" in tenant "globex", which has none`},
		{"target row deleted", `DELETE FROM audit_targets WHERE seq = 4`, `audit_targets lacks target "1" of type "t" of seq 4`},
		{"target row added", `INSERT INTO audit_targets VALUES ('acme', '1', 't', 5)`, `audit_targets has a row not among the events' targets: target "1" of type "t" of seq 5`},
		{"target row moved", `UPDATE audit_targets SET seq = 5 WHERE seq = 4`, `audit_targets lacks target "1" of type "t" of seq 4`},
		{"target counter raised", `UPDATE audit_counts SET n = n + 1 WHERE kind = 'target'`, `audit_counts counts 7 events of target "1" in tenant "", the log has 6`},
		{"target ref lowered", `UPDATE audit_refs SET n = n - 1 WHERE kind = 'target'`, `audit_refs counts 5 events of target "1" of type "t" in tenant "", the log has 6`},
		{"actor ref retyped", `UPDATE audit_refs SET type = 'bot' WHERE kind = 'actor' AND id = '1' AND tenant = 'acme'`, `audit_refs counts 2 events of actor "1" of type "bot" in tenant "acme", which has none`},
		// The per-id counts agree; only the recount per type of an id
		// with two types in audit_refs finds it.
		{"actor ref split across types", `UPDATE audit_refs SET n = 1 WHERE kind = 'actor' AND id = '1' AND tenant = 'acme';
			INSERT INTO audit_refs VALUES ('acme', 'actor', '1', 'bot', 'U', 1, 0);
			INSERT INTO audit_ref_terms VALUES ('acme', 'u', 'actor', '1', 'bot')`, `audit_refs counts 1 events of actor "1" of type "bot" in tenant "acme", which has none`},
		{"resource ref retyped", `UPDATE audit_refs SET type = 'file' WHERE kind = 'resource' AND id = '4' AND tenant = 'acme'`,
			`audit_refs has no row for resource "4" of type "doc" in tenant "acme", which has 1 events`},
		{"ref term deleted", `DELETE FROM audit_ref_terms WHERE id = '2' AND kind = 'actor'`, `audit_ref_terms lacks term "u" of actor "2"`},
		{"ref term added", `INSERT INTO audit_ref_terms VALUES ('', 'x', 'actor', 'nobody', 'user')`, `which has no events`},
		{"unknown kind", `INSERT INTO audit_counts VALUES ('', 'other', 'x', 1)`, `unknown kind "other"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := chainLog(t, 20)
			shell(t, path, c.sql)
			rep := verify(t, path)
			require.False(t, rep.OK)
			require.Zero(t, rep.FirstBad, "the events themselves are intact")
			require.Equal(t, int64(20), rep.Checked)
			require.Contains(t, rep.Reason, "derived: ")
			require.Contains(t, rep.Reason, c.reason)
		})
	}
}

// TestVerifyRecountsTargetsOfEveryForm: the targets are recounted whatever
// they hold: the same target twice, the event's own resource, and ids
// that the JSON escapes (read by the dialect's JSON functions, not in Go).
func TestVerifyRecountsTargetsOfEveryForm(t *testing.T) {
	t.Parallel()
	newLog := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "audit.db")
		l, err := audit.Open(t.Context(), path)
		require.NoError(t, err)
		for i, targets := range [][]any{
			{audit.Ref{Type: "t", ID: "b"}, audit.Ref{Type: "t", ID: "a"}, audit.Ref{Type: "t", ID: "b"}},
			{audit.Ref{Type: "doc", ID: "r1"}, audit.Ref{Type: "t", ID: "r1"}},
			{audit.Ref{Type: "t", ID: "q\"uote"}, audit.Ref{Type: "t", ID: "tab\t"}},
			{audit.Ref{Type: "t", ID: "é"}},
		} {
			_, err := l.WithTenant([]string{"", "acme"}[i%2]).Track(t.Context(), audit.Ref{Type: "user", ID: "u"}, "doc.x",
				audit.Ref{Type: "doc", ID: fmt.Sprintf("r%d", i)}, audit.WithTargets(targets...))
			require.NoError(t, err)
		}
		require.NoError(t, l.Close())
		return path
	}
	require.Equal(t, audit.VerifyReport{Checked: 4, OK: true}, verify(t, newLog(t)))
	for _, c := range []struct{ name, sql, reason string }{
		{"repeated target deleted", `DELETE FROM audit_targets WHERE seq = 1 AND id = 'b'`, `audit_targets lacks target "b" of type "t" of seq 1`},
		{"resource added as a target", `INSERT INTO audit_targets VALUES ('acme', 'r1', 'doc', 2)`, `audit_targets has a row not among the events' targets: target "r1" of type "doc" of seq 2`},
		{"escaped target deleted", `DELETE FROM audit_targets WHERE seq = 3 AND id = 'q"uote'`, `audit_targets lacks target "q\"uote" of type "t" of seq 3`},
		{"target added beside escaped ones", `INSERT INTO audit_targets VALUES ('', 'z', 't', 3)`, `audit_targets has a row not among the events' targets: target "z" of type "t" of seq 3`},
		{"target retyped", `UPDATE audit_targets SET type = 'u' WHERE seq = 4`, `audit_targets lacks target "é" of type "t" of seq 4`},
		{"target moved to another tenant", `UPDATE audit_targets SET tenant = 'acme' WHERE seq = 1 AND id = 'a'`, `audit_targets lacks target "a" of type "t" of seq 1`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := newLog(t)
			shell(t, path, c.sql)
			rep := verify(t, path)
			require.False(t, rep.OK)
			require.Zero(t, rep.FirstBad, "the events themselves are intact")
			require.Contains(t, rep.Reason, "derived: ")
			require.Contains(t, rep.Reason, c.reason)
		})
	}
}

// TestVerifyRecountsRefTermsInFullBatches: the terms of the refs are
// looked up in batches; a term missing from a full one is found too.
func TestVerifyRecountsRefTermsInFullBatches(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.db")
	l, err := audit.Open(t.Context(), path)
	require.NoError(t, err)
	for i := range 150 {
		_, err := l.Track(t.Context(), audit.Ref{Type: "user", ID: fmt.Sprintf("u%03d", i), Name: fmt.Sprintf("User %d", i)}, "doc.x",
			audit.Ref{Type: "doc", ID: "d"})
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	require.Equal(t, audit.VerifyReport{Checked: 150, OK: true}, verify(t, path))
	for _, id := range []string{"u010", "u140"} { // in the first batch of 64 terms, and in the last (partial) one
		shell(t, path, `DELETE FROM audit_ref_terms WHERE id = '`+id+`'`)
		rep := verify(t, path)
		require.False(t, rep.OK)
		require.Contains(t, rep.Reason, `derived: audit_ref_terms lacks term "user `+strings.TrimLeft(id[1:], "0")+`" of actor "`+id+`"`)
		shell(t, path, `INSERT INTO audit_ref_terms VALUES ('', 'user `+strings.TrimLeft(id[1:], "0")+`', 'actor', '`+id+`', 'user')`)
	}
	require.Equal(t, audit.VerifyReport{Checked: 150, OK: true}, verify(t, path))
}

func TestCheckpointCatchesTruncation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := chainLog(t, 20)
	l, err := audit.Open(ctx, path)
	require.NoError(t, err)
	cp, err := l.Checkpoint(ctx)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.Equal(t, int64(20), cp.Seq)

	// Deleting the newest rows leaves counters that no longer agree...
	shell(t, path, dropTriggers+`DELETE FROM audit_events WHERE seq > 17`)
	rep := verify(t, path)
	require.False(t, rep.OK)
	require.Contains(t, rep.Reason, "derived: ")
	// ... and once they are recounted too, a chain that verifies on its own...
	shell(t, path, recount)
	require.Equal(t, audit.VerifyReport{Checked: 17, OK: true}, verify(t, path))
	// ... but not against the checkpoint.
	rep = verify(t, path, cp)
	require.False(t, rep.OK)
	require.Equal(t, int64(18), rep.FirstBad)
	require.Contains(t, rep.Reason, "truncated")

	// Writing new events over the gap (a rewritten tail) is caught too.
	l, err = audit.Open(ctx, path)
	require.NoError(t, err)
	for range 5 {
		_, err := l.Track(ctx, nil, "doc.rewritten", nil)
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	require.Equal(t, audit.VerifyReport{Checked: 22, OK: true}, verify(t, path))
	rep = verify(t, path, cp)
	require.False(t, rep.OK)
	require.Equal(t, int64(20), rep.FirstBad)
	require.Contains(t, rep.Reason, "rewritten")
}

func TestSignedCheckpoints(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	l, path := setup(t, audit.WithCheckpointKey(priv))
	for range 3 {
		_, err := l.Track(ctx, nil, "signed.event", nil)
		require.NoError(t, err)
	}
	cp, err := l.Checkpoint(ctx)
	require.NoError(t, err)
	require.True(t, cp.Signed())
	require.NoError(t, cp.VerifySignature(pub))
	require.WithinDuration(t, time.Now(), cp.Time, time.Minute)

	// Text round trip.
	text, err := cp.MarshalText()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(text), "audit-checkpoint/v1 3 "+hex.EncodeToString(cp.Hash)+" "), string(text))
	var back audit.Checkpoint
	require.NoError(t, back.UnmarshalText(text))
	require.Equal(t, cp.Seq, back.Seq)
	require.Equal(t, cp.Hash, back.Hash)
	require.True(t, cp.Time.Equal(back.Time))
	require.NoError(t, back.VerifySignature(pub))
	rep, err := l.Verify(ctx, back)
	require.NoError(t, err)
	require.True(t, rep.OK)

	// A forged checkpoint does not verify.
	forged := back
	forged.Seq = 2
	require.ErrorIs(t, forged.VerifySignature(pub), audit.ErrInvalidCheckpoint)
	_, err = l.Verify(ctx, forged)
	require.ErrorIs(t, err, audit.ErrInvalidCheckpoint)
	otherPub, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	require.ErrorIs(t, back.VerifySignature(otherPub), audit.ErrInvalidCheckpoint)
	unsigned := audit.Checkpoint{Seq: back.Seq, Hash: back.Hash, Time: back.Time}
	_, err = l.Verify(ctx, unsigned)
	require.ErrorIs(t, err, audit.ErrInvalidCheckpoint, "a logger with a key wants signed checkpoints")

	// An auditor holding only the public key trusts only that key.
	_, otherPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	impostor := audit.Checkpoint{Seq: back.Seq, Hash: back.Hash, Time: back.Time, PublicKey: otherPriv.Public().(ed25519.PublicKey)}
	impostor.Signature = ed25519.Sign(otherPriv, []byte(strings.SplitN(back.String(), " ", 5)[0]+" "+strings.Join(strings.Fields(back.String())[1:4], " ")))
	require.NoError(t, impostor.VerifySignature(nil), "well formed, signed by another key")
	auditor, err := audit.Open(ctx, path, audit.WithCheckpointPublicKey(pub))
	require.NoError(t, err)
	defer auditor.Close()
	rep, err = auditor.Verify(ctx, back)
	require.NoError(t, err)
	require.True(t, rep.OK)
	_, err = auditor.Verify(ctx, impostor)
	require.ErrorIs(t, err, audit.ErrInvalidCheckpoint)

	for _, bad := range []string{"", "audit-checkpoint/v1", "audit-checkpoint/v1 x 00 2020-01-01T00:00:00Z",
		"audit-checkpoint/v1 1 zz 2020-01-01T00:00:00Z", "audit-checkpoint/v1 1 " + strings.Repeat("0", 64) + " yesterday",
		"other/v1 1 " + strings.Repeat("0", 64) + " 2020-01-01T00:00:00Z"} {
		var cp audit.Checkpoint
		require.ErrorIs(t, cp.UnmarshalText([]byte(bad)), audit.ErrInvalidCheckpoint, bad)
	}
}

func TestCheckpointFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "audit.db")
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	l, err := audit.Open(ctx, path, audit.WithCheckpointFile("", 10, 0), audit.WithCheckpointKey(priv))
	require.NoError(t, err)
	for range 35 {
		_, err := l.Track(ctx, nil, "file.checkpointed", nil)
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	cps, err := audit.ReadCheckpoints(path + ".checkpoints")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(cps), 4, "every 10 events and once on close")
	require.Equal(t, int64(35), cps[len(cps)-1].Seq, "the last is the head at Close")
	for i, cp := range cps {
		require.True(t, cp.Signed())
		if i > 0 {
			require.Greater(t, cp.Seq, cps[i-1].Seq)
		}
	}
	l, err = audit.Open(ctx, path, audit.WithCheckpointKey(priv))
	require.NoError(t, err)
	defer l.Close()
	rep, err := l.Verify(ctx, cps...)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 35, OK: true}, rep)

	// By time: a checkpoint appears without further writes.
	path2 := filepath.Join(t.TempDir(), "timed.db")
	l2, err := audit.Open(ctx, path2, audit.WithCheckpointFile(path2+".cp", 0, 20*time.Millisecond))
	require.NoError(t, err)
	defer l2.Close()
	_, err = l2.Track(ctx, nil, "timed", nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		cps, err := audit.ReadCheckpoints(path2 + ".cp")
		return err == nil && len(cps) > 0 && cps[len(cps)-1].Seq == 1
	}, 10*time.Second, 10*time.Millisecond)
}

func TestCanonicalEncoding(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	e, err := l.WithTenant("t").Track(t.Context(), audit.Ref{Type: "u", ID: "1", Name: "n"}, "a.b", audit.Ref{ID: "r"},
		audit.WithTargets(audit.Ref{ID: "x"}, audit.Ref{Type: "y"}), audit.WithMetadata(map[string]any{"z": 1, "a": map[string]any{"q": []any{true, nil, 1.5}}}),
		audit.WithIdempotencyKey("k"), audit.Failed())
	require.NoError(t, err)
	b, err := audit.Canonical(e)
	require.NoError(t, err)
	back, err := audit.DecodeCanonical(b)
	require.NoError(t, err)
	back.PrevHash, back.Hash = e.PrevHash, e.Hash
	require.Equal(t, e, back)
	b2, err := audit.Canonical(back)
	require.NoError(t, err)
	require.True(t, bytes.Equal(b, b2))
	require.True(t, bytes.HasPrefix(b, []byte("audit.v3")))
	// Every prefix is refused.
	for i := range len(b) {
		_, err := audit.DecodeCanonical(b[:i])
		require.Error(t, err, i)
	}
	_, err = audit.DecodeCanonical(append(b, 0))
	require.Error(t, err)
}

// TestVerifyCatchesEveryStorageClassChange casts every column of one row to
// every storage class. Whenever the row as stored changed (its storage
// class or its value, as the shell's typeof and quote see it), Verify
// fails at that row's seq; when the cast changed nothing (SQLite's column
// affinity turned it back), Verify passes.
func TestVerifyCatchesEveryStorageClassChange(t *testing.T) {
	t.Parallel()
	sqlite3Shell(t)
	for _, col := range audit.ChainColumns[1:] {
		for _, expr := range []string{"CAST(%s AS BLOB)", "CAST(%s AS TEXT)", "CAST(%s AS INTEGER)", "CAST(%s AS REAL)", "NULL", "%s || ''"} {
			set := strings.ReplaceAll(expr, "%s", col)
			t.Run(col+"="+set, func(t *testing.T) {
				t.Parallel()
				path := chainLog(t, 8)
				const seq = 5
				look := fmt.Sprintf(`SELECT typeof(%s) || ':' || quote(%s) FROM audit_events WHERE seq = %d`, col, col, seq)
				before := shell(t, path, look)
				out, err := exec.CommandContext(t.Context(), sqlite3Shell(t), "-bail", path,
					dropTriggers+fmt.Sprintf(`UPDATE audit_events SET %s = %s WHERE seq = %d`, col, set, seq)).CombinedOutput()
				if err != nil {
					require.Contains(t, string(out), "NOT NULL constraint failed", set)
					return
				}
				after := shell(t, path, look)
				rep := verify(t, path)
				if before == after {
					require.True(t, rep.OK, "%s changed nothing (%s) but: %s", set, after, rep.Reason)
					return
				}
				require.False(t, rep.OK, "%s: %s -> %s", set, before, after)
				require.Equal(t, int64(seq), rep.FirstBad, "%s: %s -> %s: %s", set, before, after, rep.Reason)
			})
		}
	}
}
