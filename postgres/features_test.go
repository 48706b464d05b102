package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/postgres"
)

// newRole creates a role that may log in through the admin's session
// (SET ROLE, via the DSN's role setting), dropped when the test ends.
func newRole(t *testing.T, schema string, grants ...string) string {
	t.Helper()
	db := adminDB(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	role := "audit_role_" + hex.EncodeToString(b[:])
	ctx := t.Context()
	_, err := db.ExecContext(ctx, `CREATE ROLE `+role+` NOLOGIN`)
	require.NoError(t, err)
	for _, g := range grants {
		_, err := db.ExecContext(ctx, strings.ReplaceAll(strings.ReplaceAll(g, "{role}", role), "{schema}", schema))
		require.NoError(t, err, g)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = db.ExecContext(ctx, `DROP OWNED BY `+role)
		_, _ = db.ExecContext(ctx, `DROP ROLE `+role)
	})
	return role
}

// appGrants are the README's grants for an application role that appends
// and reads but can change nothing.
var appGrants = []string{
	`GRANT USAGE ON SCHEMA {schema} TO {role}`,
	`GRANT SELECT, INSERT ON {schema}.audit_events TO {role}`,
	`GRANT SELECT, INSERT, UPDATE ON {schema}.audit_counts TO {role}`,
	`GRANT SELECT, INSERT ON {schema}.audit_action_terms TO {role}`,
	`GRANT SELECT, INSERT ON {schema}.audit_targets TO {role}`,
	`GRANT SELECT, INSERT, UPDATE ON {schema}.audit_refs TO {role}`,
	`GRANT SELECT, INSERT ON {schema}.audit_ref_terms TO {role}`,
	`GRANT SELECT ON {schema}.audit_counts_now, {schema}.audit_refs_now TO {role}`,
	`GRANT SELECT ON {schema}.audit_schema_migrations TO {role}`,
}

func TestMigrateOnce(t *testing.T) {
	t.Parallel()
	dsn := newSchema(t)
	const servers = 10
	applied := make([][]int, servers)
	errs := make([]error, servers)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), dsn, postgres.WithMaxConns(4))
			if err != nil {
				errs[i] = err
				return
			}
			applied[i] = s.Migrated()
			errs[i] = s.Close()
		})
	}
	wg.Wait()
	var migrated int
	for i := range servers {
		require.NoError(t, errs[i], "server %d", i)
		if len(applied[i]) > 0 {
			migrated++
			require.Equal(t, []int{1, 2}, applied[i])
		}
	}
	require.Equal(t, 1, migrated, "ten servers opening a new schema at once migrate it once")
}

// TestSchemaTooNew: a schema a newer release migrated is refused, and left
// as it is.
func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	ctx := t.Context()
	_, err := s.DB().ExecContext(ctx, `INSERT INTO audit_schema_migrations (version, applied_at) VALUES (99, 0)`)
	require.NoError(t, err)
	_, err = postgres.Open(ctx, dsn, postgres.WithMaxConns(4))
	require.ErrorIs(t, err, audit.ErrSchemaTooNew)
	require.ErrorContains(t, err, "schema version 99")
	var version int
	require.NoError(t, s.DB().GetContext(ctx, &version, `SELECT max(version) FROM audit_schema_migrations`))
	require.Equal(t, 99, version)
	require.NoError(t, s.Close())
}

// TestApplicationRole runs the store as a role with the README's grants
// only: it appends, reads and verifies, and cannot change the log.
func TestApplicationRole(t *testing.T) {
	t.Parallel()
	owner, dsn := openStore(t)
	require.NoError(t, owner.Close())
	schema := strings.TrimPrefix(dsn, "search_path=")
	role := newRole(t, schema, appGrants...)
	s, err := postgres.Open(t.Context(), dsn+" role="+role, postgres.WithMaxConns(4))
	require.NoError(t, err, "a role that cannot create tables opens a migrated schema")
	l, err := audit.New(s)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	ctx := t.Context()
	for i := range 20 {
		_, err := l.WithTenant("t"+strconv.Itoa(i%2)).Track(ctx, audit.Ref{Type: "user", ID: "u"}, "role.wrote", nil)
		require.NoError(t, err)
	}
	p, err := l.WithTenant("t1").Search(ctx, "wrote", audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 10, p.TotalCount)
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep)
	for _, q := range []string{
		`UPDATE audit_events SET actor_name = 'x'`,
		`DELETE FROM audit_events`,
		`TRUNCATE audit_events`,
		`DROP TABLE audit_events`,
	} {
		_, err := s.DB().ExecContext(ctx, q)
		require.ErrorContains(t, err, "42501", "the application role cannot %s", q) // insufficient_privilege
	}
}

func TestAppendOnlyForTheOwner(t *testing.T) {
	t.Parallel()
	l, s, _ := setup(t)
	ctx := t.Context()
	_, err := l.Track(ctx, nil, "a.b", nil)
	require.NoError(t, err)
	db := s.DB()
	for _, q := range []string{
		`UPDATE audit_events SET actor_name = 'x'`,
		`DELETE FROM audit_events`,
		`TRUNCATE audit_events`,
		// Not the next seq.
		`INSERT INTO audit_events SELECT seq + 2, id, tenant, action, actor_type, actor_id, actor_name, resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key, occurred_at, recorded_at, prev_hash, hash, hash_version FROM audit_events`,
		`INSERT INTO audit_events SELECT 0, id, tenant, action, actor_type, actor_id, actor_name, resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key, occurred_at, recorded_at, prev_hash, hash, hash_version FROM audit_events`,
		// The next seq, in a form the library never writes.
		`INSERT INTO audit_events SELECT seq + 1, id, tenant, action, actor_type, actor_id, actor_name, resource_type, resource_id, resource_name, targets, outcome, metadata, '', occurred_at, recorded_at, prev_hash, hash, hash_version FROM audit_events`,
		`INSERT INTO audit_events SELECT seq + 1, id, tenant, action, actor_type, actor_id, '\xff'::bytea, resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key, occurred_at, recorded_at, prev_hash, hash, hash_version FROM audit_events`,
		`INSERT INTO audit_events SELECT seq + 1, id, tenant, action, actor_type, actor_id, actor_name, resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key, occurred_at, recorded_at, prev_hash, '\x00'::bytea, hash_version FROM audit_events`,
		`INSERT INTO audit_events SELECT seq + 1, id, tenant, action, actor_type, actor_id, actor_name, resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key, occurred_at, recorded_at, prev_hash, hash, hash_version, '' FROM audit_events`,
		`INSERT INTO audit_events SELECT seq + 1, id, tenant, action, actor_type, actor_id, actor_name, resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key, occurred_at, recorded_at, prev_hash, hash, hash_version, NULL, NULL, '\xc0'::bytea FROM audit_events`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.Error(t, err, "the database refuses, even to the tables' owner: %s", q)
	}
	// The next seq in the library's form (a copy) is taken; Verify catches it.
	_, err = db.ExecContext(ctx, `INSERT INTO audit_events SELECT seq + 1, id, tenant, action, actor_type, actor_id, actor_name, resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key, occurred_at, recorded_at, prev_hash, hash, hash_version FROM audit_events`)
	require.NoError(t, err)
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.False(t, rep.OK)
	require.Equal(t, int64(2), rep.FirstBad, rep.Reason)
}

// TestNULRoundTrips writes every string field with the byte 0x00, which
// TEXT cannot hold, and reads it back, by filter too.
func TestNULRoundTrips(t *testing.T) {
	t.Parallel()
	l, _, _ := setup(t)
	ctx := t.Context()
	nul := "a\x00b\\x00\\"
	e, err := l.WithTenant(nul).Record(ctx, audit.Event{Action: "nul.test",
		Actor: audit.Ref{Type: nul, ID: nul, Name: nul}, Resource: audit.Ref{Type: nul, ID: nul, Name: nul},
		Targets: []audit.Ref{{Type: nul, ID: nul}}, Metadata: map[string]any{nul: nul}, IdempotencyKey: nul})
	require.NoError(t, err)
	p, err := l.WithTenant(nul).Recent(ctx, audit.Query{ActorID: nul, ResourceID: nul})
	require.NoError(t, err)
	require.Len(t, p.Entries, 1)
	require.Equal(t, e.Actor, p.Entries[0].Actor)
	require.Equal(t, e.Targets, p.Entries[0].Targets)
	require.Equal(t, e.Metadata, p.Entries[0].Metadata)
	again, err := l.WithTenant(nul).Record(ctx, audit.Event{Action: "nul.test", IdempotencyKey: nul})
	require.NoError(t, err)
	require.Equal(t, e.ID, again.ID, "the idempotency key matches byte for byte")
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep)
}

func TestAppendTxNeedsReadCommitted(t *testing.T) {
	t.Parallel()
	l, s, _ := setup(t)
	ctx := t.Context()
	tx, err := s.DB().BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck // rolled back
	_, err = l.TrackTx(ctx, tx, nil, "a.b", nil)
	require.ErrorIs(t, err, audit.ErrUnsupported)
	require.ErrorContains(t, err, "repeatable read")
}

// TestAppendTxWaitsForTheCaller shows the documented cost of TrackTx: the
// caller's transaction holds the head lock until it ends, and the Logger's
// own appends wait for it, then go on with the next Seq.
func TestAppendTxWaitsForTheCaller(t *testing.T) {
	t.Parallel()
	l, s, _ := setup(t)
	ctx := t.Context()
	tx, err := s.DB().BeginTxx(ctx, nil)
	require.NoError(t, err)
	inTx, err := l.TrackTx(ctx, tx, nil, "tx.first", nil)
	require.NoError(t, err)
	done := make(chan audit.Event, 1)
	failed := make(chan error, 1)
	go func() {
		e, err := l.Track(ctx, nil, "tx.waiting", nil)
		if err != nil {
			failed <- err
			return
		}
		done <- e
	}()
	select {
	case <-done:
		t.Fatal("Track finished while a transaction held the head lock")
	case err := <-failed:
		t.Fatal(err)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, tx.Commit())
	select {
	case e := <-done:
		require.Equal(t, inTx.Seq+1, e.Seq)
	case err := <-failed:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("Track did not go on after the commit")
	}
}

func TestVerifyRefusesAnAlteredTable(t *testing.T) {
	t.Parallel()
	l, s, _ := setup(t)
	ctx := t.Context()
	_, err := l.Track(ctx, audit.Ref{Type: "user", ID: "1", Name: "Ann"}, "a.b", nil)
	require.NoError(t, err)
	_, err = s.DB().ExecContext(ctx, `DROP VIEW audit_events_view; ALTER TABLE audit_events ALTER COLUMN actor_name TYPE text USING convert_from(actor_name, 'UTF8')`)
	require.NoError(t, err)
	_, err = l.Verify(ctx)
	require.ErrorContains(t, err, "column actor_name of audit_events is TEXT, not BYTEA")
}

// TestNotify listens on NotifyChannel in a database of its own (the
// channel is the database's) and gets the Seq of each commit.
func TestNotify(t *testing.T) {
	t.Parallel()
	db := adminDB(t)
	ctx := t.Context()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "audit_notify_" + hex.EncodeToString(b[:])
	_, err := db.ExecContext(ctx, `CREATE DATABASE `+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := db.ExecContext(context.Background(), `DROP DATABASE `+name+` WITH (FORCE)`)
		require.NoError(t, err)
	})
	s, err := postgres.Open(ctx, "dbname="+name, postgres.WithMaxConns(4))
	require.NoError(t, err)
	l, err := audit.New(s)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })

	conn, err := pgx.Connect(ctx, "dbname="+name)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, `LISTEN `+postgres.NotifyChannel)
	require.NoError(t, err)
	for i := range 3 {
		e, err := l.Track(ctx, nil, "notify.me", nil)
		require.NoError(t, err)
		wait, cancel := context.WithTimeout(ctx, 10*time.Second)
		n, err := conn.WaitForNotification(wait)
		cancel()
		require.NoError(t, err)
		require.Equal(t, strconv.FormatInt(e.Seq, 10), n.Payload, "notification %d carries the seq, and only it", i)
	}
	// A rolled-back TrackTx notifies nothing; a committed one does.
	tx, err := s.DB().BeginTxx(ctx, nil)
	require.NoError(t, err)
	_, err = l.TrackTx(ctx, tx, nil, "notify.never", nil)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	tx, err = s.DB().BeginTxx(ctx, nil)
	require.NoError(t, err)
	e, err := l.TrackTx(ctx, tx, nil, "notify.tx", nil)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := conn.WaitForNotification(wait)
	require.NoError(t, err)
	require.Equal(t, strconv.FormatInt(e.Seq, 10), n.Payload)

	// Store.Notifications yields the same seqs.
	seqs := make(chan int64, 100)
	listenCtx, stop := context.WithCancel(ctx)
	finished := make(chan error, 1)
	go func() {
		var err error
		for seq, e := range s.Notifications(listenCtx) {
			if e != nil {
				err = e
				break
			}
			seqs <- seq
		}
		finished <- err
	}()
	// It yields 0 once it listens: what is written from then on is heard.
	select {
	case seq := <-seqs:
		require.Zero(t, seq, "Notifications yields 0 first, once it listens")
	case <-time.After(10 * time.Second):
		t.Fatal("Notifications did not start listening")
	}
	for i := range 3 {
		e, err := l.Track(ctx, nil, "notify.iter", nil)
		require.NoError(t, err)
		select {
		case seq := <-seqs:
			require.Equal(t, e.Seq, seq, "Notifications yields the seq of each commit (%d)", i)
		case <-time.After(10 * time.Second):
			t.Fatal("no notification")
		}
	}
	stop()
	select {
	case err := <-finished:
		require.NoError(t, err, "Notifications ends without an error when its context ends")
	case <-time.After(10 * time.Second):
		t.Fatal("Notifications did not end with its context")
	}
	_, err = l.Track(ctx, nil, "notify.after", nil)
	require.NoError(t, err, "the pool goes on after Notifications")
}

// TestRowLevelSecurity: with WithRowLevelSecurity, a role other than the
// owner sees only the tenant its session names, in the log and in its
// derived tables, and nothing while it names none; the store, run by the
// owner, still sees and verifies everything.
func TestRowLevelSecurity(t *testing.T) {
	t.Parallel()
	l, _, dsn := setup(t, postgres.WithRowLevelSecurity())
	ctx := t.Context()
	for i := range 6 {
		_, err := l.WithTenant([]string{"acme", "globex", ""}[i%3]).Track(ctx, audit.Ref{Type: "user", ID: "u" + strconv.Itoa(i)}, "rls.write", nil,
			audit.WithTargets(audit.Ref{Type: "doc", ID: "d" + strconv.Itoa(i)}))
		require.NoError(t, err)
	}
	schema := strings.TrimPrefix(dsn, "search_path=")
	role := newRole(t, schema,
		`GRANT USAGE ON SCHEMA {schema} TO {role}`,
		`GRANT SELECT ON {schema}.audit_events, {schema}.audit_counts, {schema}.audit_action_terms, {schema}.audit_targets,
			{schema}.audit_refs, {schema}.audit_ref_terms, {schema}.audit_counts_now, {schema}.audit_refs_now, {schema}.audit_events_view TO {role}`)
	reader, err := sqlx.Open(postgres.DriverName, dsn+" role="+role)
	require.NoError(t, err)
	reader.SetMaxOpenConns(1)
	t.Cleanup(func() { require.NoError(t, reader.Close()) })
	count := func(query string) int {
		var n int
		require.NoError(t, reader.GetContext(ctx, &n, query))
		return n
	}
	require.Zero(t, count(`SELECT count(*) FROM audit_events`), "no tenant named: no rows")
	_, err = reader.ExecContext(ctx, `SET audit.tenant = 'acme'`)
	require.NoError(t, err)
	require.Equal(t, 2, count(`SELECT count(*) FROM audit_events`), "the named tenant's rows only")
	require.Equal(t, 2, count(`SELECT count(*) FROM audit_events_view`), "the view too")
	require.Zero(t, count(`SELECT count(*) FROM audit_events WHERE tenant <> 'acme'`))
	for _, table := range []string{"audit_counts", "audit_action_terms", "audit_targets", "audit_refs", "audit_ref_terms"} {
		require.Zero(t, count(`SELECT count(*) FROM `+table+` WHERE tenant <> 'acme'`), "and in the derived table %s", table)
	}
	require.Equal(t, 2, count(`SELECT count(*) FROM audit_refs WHERE kind = 'actor'`), "acme's actors")
	require.Equal(t, 2, count(`SELECT count(*) FROM audit_targets`), "acme's targets")
	_, err = reader.ExecContext(ctx, `SET audit.tenant = ''`)
	require.NoError(t, err)
	require.Equal(t, 2, count(`SELECT count(*) FROM audit_events`), "the default tenant is named by ''")
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep)
	require.Equal(t, int64(6), rep.Checked)
}

// TestTailHearsOtherStores: a Tail yields at once what another store (as
// another process would) commits, woken by NOTIFY through the Logger's
// listener: its poll interval, an hour, cannot be what delivers it. The
// listener's connection goes back to the pool when the tail ends.
func TestTailHearsOtherStores(t *testing.T) {
	t.Parallel()
	s, dsn := openStore(t)
	l, err := audit.New(s, audit.WithTailPoll(time.Hour))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	other, err := postgres.Open(t.Context(), dsn, postgres.WithMaxConns(4))
	require.NoError(t, err)
	writer, err := audit.New(other)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, writer.Close()) })

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan audit.Event, 10)
	failed := make(chan error, 1)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for e, err := range l.Tail(ctx, 0, audit.Query{Action: "tail.elsewhere"}) {
			if err != nil {
				failed <- err
				return
			}
			got <- e
		}
	}()
	for i := range 3 {
		e, err := writer.Track(ctx, nil, "tail.elsewhere", nil)
		require.NoError(t, err)
		select {
		case g := <-got:
			require.Equal(t, e.Seq, g.Seq, "Tail yields event %d of another store", i)
		case err := <-failed:
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatalf("Tail did not yield event %d of another store: only NOTIFY wakes it before its hourly poll", i)
		}
	}
	cancel()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("Tail did not end with its context")
	}
	require.Zero(t, s.DB().Stats().InUse, "the listener's connection is back in the pool once the tail ends")
}

// TestOriginInTheChain: ReadChain hands the origin columns over as text and
// hash_version as an integer, and Verify catches an origin changed, or
// stored as an empty string, under the triggers' back.
func TestOriginInTheChain(t *testing.T) {
	t.Parallel()
	l, s, _ := setup(t)
	ctx := audit.ContextWithOrigin(t.Context(), audit.Origin{IP: "192.0.2.1", UserAgent: "curl/8.5", RequestID: "req-1"})
	e, err := l.Track(ctx, nil, "origin.kept", nil)
	require.NoError(t, err)
	col := map[string]int{}
	for i, c := range audit.ChainColumns {
		col[c] = i
	}
	err = s.ReadChain(ctx, e.Seq, e.Seq, func(ce audit.ChainEntry) error {
		require.Equal(t, "192.0.2.1", ce.Values[col["origin_ip"]])
		require.Equal(t, "curl/8.5", ce.Values[col["origin_user_agent"]])
		require.Equal(t, "req-1", ce.Values[col["origin_request_id"]])
		require.Equal(t, int64(e.ChainVersion), ce.Values[col["hash_version"]])
		return nil
	})
	require.NoError(t, err)

	for _, c := range []struct{ set, reason string }{
		{`origin_ip = convert_to('203.0.113.9', 'UTF8')`, "altered"},
		{`origin_request_id = ''`, "malformed"},
	} {
		tx, err := s.DB().BeginTxx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, `SET LOCAL session_replication_role = replica`)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, `UPDATE audit_events SET `+c.set+` WHERE seq = $1`, e.Seq)
		require.NoError(t, err)
		require.NoError(t, tx.Commit())
		rep, err := l.Verify(ctx)
		require.NoError(t, err)
		require.False(t, rep.OK, c.set)
		require.Equal(t, e.Seq, rep.FirstBad, rep.Reason)
		require.True(t, strings.HasPrefix(rep.Reason, c.reason), "%s: %s", c.set, rep.Reason)
	}
}

// TestMigration2GrantsTheViews: a role that could read the counters
// before migration 2 (which adds the views reads take them from) can read
// the views after it, as the application's role of an upgraded schema
// must.
func TestMigration2GrantsTheViews(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, dsn := openStore(t)
	// The schema as migration 1 left it.
	_, err := s.DB().ExecContext(ctx, `DROP VIEW audit_counts_now; DROP VIEW audit_refs_now;
		DELETE FROM audit_schema_migrations WHERE version = 2`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	schema := strings.TrimPrefix(dsn, "search_path=")
	role := newRole(t, schema, `GRANT USAGE ON SCHEMA {schema} TO {role}`,
		`GRANT SELECT ON {schema}.audit_counts, {schema}.audit_refs TO {role}`)

	s, err = postgres.Open(ctx, dsn, postgres.WithMaxConns(4))
	require.NoError(t, err)
	require.Equal(t, []int{2}, s.Migrated())
	require.NoError(t, s.Close())

	db, err := sqlx.Open(postgres.DriverName, dsn+" role="+role)
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.GetContext(ctx, &n, `SELECT count(*) FROM audit_counts_now`))
	require.NoError(t, db.GetContext(ctx, &n, `SELECT count(*) FROM audit_refs_now`))
}
