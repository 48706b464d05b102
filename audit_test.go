package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/audittest"
)

// setup opens a log in a new file and closes it when the test ends.
func setup(t *testing.T, opts ...audit.Option) (*audit.Logger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	l, err := audit.Open(t.Context(), path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l, path
}

func TestSQLiteConformance(t *testing.T) {
	t.Parallel()
	files := &sqliteFiles{paths: map[audit.Store]string{}}
	audittest.RunWith(t, func(t *testing.T) audit.Store {
		path := filepath.Join(t.TempDir(), "audit.db")
		s, err := audit.OpenSQLite(context.Background(), path)
		require.NoError(t, err)
		files.add(s, path)
		return s
	}, files.options())
}

// openAppDB opens an application's own database, as an application would.
func openAppDB(t *testing.T, path string) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

func TestSQLiteInApplicationDatabaseConformance(t *testing.T) {
	t.Parallel()
	files := &sqliteFiles{paths: map[audit.Store]string{}}
	audittest.RunWith(t, func(t *testing.T) audit.Store {
		path := filepath.Join(t.TempDir(), "app.db")
		db := openAppDB(t, path)
		_, err := db.Exec(`CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT)`)
		require.NoError(t, err)
		s, err := audit.NewSQLiteStore(context.Background(), db)
		require.NoError(t, err)
		files.add(s, path)
		return s
	}, files.options())
}

// sqliteFiles knows the file of each store a conformance test made, and
// gives the suite its hooks on them.
type sqliteFiles struct {
	mu    sync.Mutex
	paths map[audit.Store]string
}

func (f *sqliteFiles) add(s audit.Store, path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths[s] = path
}

func (f *sqliteFiles) path(t *testing.T, s audit.Store) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.paths[s]
	require.True(t, ok, "a store this test did not make")
	return p
}

// open opens a connection pool of its own on the file of s, as another
// program would.
func (f *sqliteFiles) open(t *testing.T, s audit.Store) *sqlx.DB {
	t.Helper()
	db := openAppDB(t, f.path(t, s))
	db.SetMaxOpenConns(1)
	return db
}

func (f *sqliteFiles) options() audittest.Options {
	return audittest.Options{
		Exec: func(t *testing.T, s audit.Store, query string, args ...any) error {
			_, err := f.open(t, s).ExecContext(t.Context(), query, args...)
			return err
		},
		// Tamper drops the triggers of audit_events, runs query and puts
		// them back, in one transaction, as anyone who can write the file
		// can.
		Tamper: func(t *testing.T, s audit.Store, query string, args ...any) {
			ctx := t.Context()
			db := f.open(t, s)
			tx, err := db.BeginTxx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback() //nolint:errcheck // committed below
			var triggers []struct{ Name, SQL string }
			require.NoError(t, tx.SelectContext(ctx, &triggers, `SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'`))
			for _, tr := range triggers {
				_, err := tx.ExecContext(ctx, `DROP TRIGGER `+tr.Name)
				require.NoError(t, err)
			}
			_, err = tx.ExecContext(ctx, query, args...)
			require.NoError(t, err)
			for _, tr := range triggers {
				_, err := tx.ExecContext(ctx, tr.SQL)
				require.NoError(t, err)
			}
			require.NoError(t, tx.Commit())
		},
		BeginTx: func(t *testing.T, s audit.Store) *sqlx.Tx {
			tx, err := f.open(t, s).BeginTxx(t.Context(), nil)
			require.NoError(t, err)
			return tx
		},
		Reopen: func(t *testing.T, s audit.Store) audit.Store {
			s2, err := audit.OpenSQLite(context.Background(), f.path(t, s))
			require.NoError(t, err)
			return s2
		},
	}
}

func TestOpenConfiguresAndMigrates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "audit.db")
	db := openAppDB(t, path)
	_, err := db.Exec(`PRAGMA user_version = 42`)
	require.NoError(t, err)

	l, err := audit.Open(ctx, path)
	require.NoError(t, err)
	s := l.Store().(*audit.SQLiteStore)
	require.Equal(t, []int{1, 2, 3, 4, 5}, s.Migrated())
	_, err = l.Track(ctx, nil, "first.event", nil)
	require.NoError(t, err)
	require.NoError(t, l.Close())

	var mode string
	require.NoError(t, db.Get(&mode, `PRAGMA journal_mode`))
	require.Equal(t, "wal", mode)
	var userVersion int
	require.NoError(t, db.Get(&userVersion, `PRAGMA user_version`))
	require.Equal(t, 42, userVersion, "the application's user_version is its own")
	var versions []int
	require.NoError(t, db.Select(&versions, `SELECT version FROM audit_schema_migrations`))
	require.Equal(t, []int{1, 2, 3, 4, 5}, versions)

	// Reopening applies nothing and keeps the data.
	l, err = audit.Open(ctx, path)
	require.NoError(t, err)
	require.Empty(t, l.Store().(*audit.SQLiteStore).Migrated())
	p, err := l.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 1, p.TotalCount)
	require.NoError(t, l.Close())

	// Paths with URI characters work.
	odd := filepath.Join(t.TempDir(), "a?b#c%d e.db")
	l, err = audit.Open(ctx, odd)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	_, err = os.Stat(odd)
	require.NoError(t, err)

	for _, bad := range []string{"", ":memory:", "file:x.db"} {
		_, err := audit.Open(ctx, bad)
		require.Error(t, err, bad)
	}
	_, err = audit.Open(ctx, filepath.Join(t.TempDir(), "missing-dir", "x.db"))
	require.Error(t, err)
}

func TestAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, path := setup(t)
	e, err := l.Track(ctx, audit.Ref{Type: "user", ID: "1"}, "doc.created", nil)
	require.NoError(t, err)
	db := openAppDB(t, path)
	for _, stmt := range []string{
		`UPDATE audit_events SET action = 'doc.deleted'`,
		`UPDATE audit_events SET metadata = '{}' WHERE seq = 1`,
		`DELETE FROM audit_events`,
		`DELETE FROM audit_events WHERE seq = 1`,
		`INSERT OR REPLACE INTO audit_events (seq, id, action, occurred_at, recorded_at) VALUES (1, 'x', 'forged', 0, 0)`,
		`REPLACE INTO audit_events (seq, id, action, occurred_at, recorded_at) VALUES (1, '` + e.ID + `', 'forged', 0, 0)`,
		`INSERT INTO audit_events (seq, id, action, occurred_at, recorded_at) VALUES (1, 'y', 'forged', 0, 0)
		 ON CONFLICT (seq) DO UPDATE SET action = 'forged'`,
		`INSERT INTO audit_events (seq, id, action, occurred_at, recorded_at) VALUES (0, 'z', 'forged', 0, 0)`,
		`INSERT INTO audit_events (seq, id, action, occurred_at, recorded_at) VALUES (-7, 'z', 'forged', 0, 0)`,
		`INSERT INTO audit_events (seq, id, action, occurred_at, recorded_at) VALUES (5, 'z', 'forged', 0, 0)`,
		`INSERT INTO audit_events (id, action, occurred_at, recorded_at) SELECT 'w' || seq, 'forged', 0, 0 FROM audit_events`,
	} {
		_, err := db.ExecContext(ctx, stmt)
		require.ErrorContains(t, err, "append-only", stmt)
	}
	got, err := l.Get(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, e.Action, got.Action)
	var n int
	require.NoError(t, db.Get(&n, `SELECT count(*) FROM audit_events`))
	require.Equal(t, 1, n)
}

// TestInsertMustBeInStoredForm: the next row, even with the right seq and
// a plausible hash, is refused unless every column is in the form the
// library writes: a BLOB of a tenant's bytes would be invisible to reads.
func TestInsertMustBeInStoredForm(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, path := setup(t)
	_, err := l.Track(ctx, audit.Ref{Type: "user", ID: "1"}, "doc.created", nil)
	require.NoError(t, err)
	db := openAppDB(t, path)
	const insert = `INSERT INTO audit_events (seq, id, tenant, action, actor_id, targets, metadata, idempotency_key, occurred_at, recorded_at, prev_hash, hash, hash_version)
		SELECT 2, %s, %s, %s, %s, %s, %s, %s, %s, recorded_at, hash, hash, 2 FROM audit_events WHERE seq = 1`
	good := []any{"'id2'", "'acme'", "'doc.forged'", "'7'", "NULL", "NULL", "NULL", "occurred_at"}
	for i, bad := range []string{"CAST('id2' AS BLOB)", "CAST('acme' AS BLOB)", "x'41'", "CAST('7' AS BLOB)", "''", "''", "''", "'soon'"} {
		args := slices.Clone(good)
		args[i] = bad
		stmt := fmt.Sprintf(insert, args...)
		_, err := db.ExecContext(ctx, stmt)
		require.ErrorContains(t, err, "not in the form the library writes", stmt)
	}
	var n int
	require.NoError(t, db.Get(&n, `SELECT count(*) FROM audit_events`))
	require.Equal(t, 1, n)
	// The same insert in the stored form passes the trigger (Verify
	// then reports it as forged: its hash is not its own).
	_, err = db.ExecContext(ctx, fmt.Sprintf(insert, good...))
	require.NoError(t, err)
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(2), rep.FirstBad, rep.Reason)
}

// TestSQLiteShell checks the triggers from the sqlite3 command-line shell,
// the tool someone with the file would reach for.
func TestSQLiteShell(t *testing.T) {
	t.Parallel()
	shell := sqlite3Shell(t)
	ctx := t.Context()
	l, path := setup(t)
	e, err := l.Track(ctx, nil, "shell.tested", nil, audit.WithMeta("k", "v"))
	require.NoError(t, err)
	for _, stmt := range []string{
		`UPDATE audit_events SET action = 'x';`,
		`DELETE FROM audit_events;`,
		`INSERT OR REPLACE INTO audit_events (seq, id, action, occurred_at, recorded_at) VALUES (1, 'x', 'forged', 0, 0);`,
	} {
		out, err := exec.CommandContext(ctx, shell, "-bail", path, stmt).CombinedOutput()
		require.Error(t, err, stmt)
		require.Contains(t, string(out), "append-only", stmt)
	}
	out, err := exec.CommandContext(ctx, shell, path, `SELECT seq, id, action, actor_id FROM audit_events;`).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, fmt.Sprintf("1|%s|shell.tested|\n", e.ID), string(out))
	out, err = exec.CommandContext(ctx, shell, path, `SELECT action, occurred_at LIKE '____-__-__T__:__:__.___Z' FROM audit_events_view;`).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "shell.tested|1\n", string(out))
}

func TestSecretsNeverReachDisk(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "audit.db")
	l, err := audit.Open(ctx, path)
	require.NoError(t, err)
	_, err = l.Track(ctx, nil, "user.login", nil, audit.WithMetadata(map[string]any{
		"password": "hunter2-secret-value",
		"request":  map[string]any{"headers": map[string]any{"Authorization": "Bearer tok-AAAA-BBBB"}},
		"visible":  "plain-visible-value",
		"form":     map[string]any{"pw": "pw-secret-value-QQQQ"},
		"dsn":      "postgres://app:dsn-secret-value-ZZZZ@db/prod",
	}))
	require.NoError(t, err)
	// Look at the bytes while the WAL still holds them, and after the
	// checkpoint on close.
	check := func() {
		var all []byte
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(path + suffix)
			if err == nil {
				all = append(all, b...)
			}
		}
		require.True(t, bytes.Contains(all, []byte("plain-visible-value")), "the test must see what is written")
		require.False(t, bytes.Contains(all, []byte("hunter2-secret-value")))
		require.False(t, bytes.Contains(all, []byte("tok-AAAA-BBBB")))
		require.False(t, bytes.Contains(all, []byte("pw-secret-value-QQQQ")))
		require.False(t, bytes.Contains(all, []byte("dsn-secret-value-ZZZZ")))
	}
	check()
	require.NoError(t, l.Close())
	check()
}

func TestNewSQLiteStoreNeedsTwoConnections(t *testing.T) {
	t.Parallel()
	db := openAppDB(t, filepath.Join(t.TempDir(), "app.db"))
	db.SetMaxOpenConns(1)
	_, err := audit.NewSQLiteStore(t.Context(), db)
	require.ErrorContains(t, err, "one open connection")
}

func TestTrackTx(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openAppDB(t, filepath.Join(t.TempDir(), "app.db"))
	_, err := db.Exec(`CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`)
	require.NoError(t, err)
	store, err := audit.NewSQLiteStore(ctx, db)
	require.NoError(t, err)
	l, err := audit.New(store)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })

	// Committed with the application's own write.
	tx, err := db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.Exec(`INSERT INTO projects (id, name) VALUES (1, 'Apollo')`)
	require.NoError(t, err)
	e, err := l.TrackTx(ctx, tx, audit.Ref{Type: "user", ID: "1"}, "project.created", audit.Ref{Type: "project", ID: "1"})
	require.NoError(t, err)
	require.Equal(t, int64(1), e.Seq)
	require.NoError(t, tx.Commit())
	got, err := l.Get(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, "project.created", got.Action)

	// Rolled back with it: no event, no count, no catalogue entry.
	tx, err = db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.Exec(`INSERT INTO projects (id, name) VALUES (2, 'Gemini')`)
	require.NoError(t, err)
	rb, err := l.WithTenant("t").TrackTx(ctx, tx, nil, "project.rolled_back", audit.Ref{Type: "project", ID: "2"})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	_, err = l.WithTenant("t").Get(ctx, rb.ID)
	require.ErrorIs(t, err, audit.ErrNotFound)
	acts, err := l.WithTenant("t").Actions(ctx, "", 10)
	require.NoError(t, err)
	require.Empty(t, acts)

	// Mixed with the logger's own writer, Seq stays gapless.
	e2, err := l.Track(ctx, nil, "after.tx", nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), e2.Seq)

	// Invalid events and idempotency behave as with Track.
	tx, err = db.BeginTxx(ctx, nil)
	require.NoError(t, err)
	_, err = l.TrackTx(ctx, tx, nil, "", nil)
	require.ErrorIs(t, err, audit.ErrInvalidEvent)
	k1, err := l.TrackTx(ctx, tx, nil, "keyed", nil, audit.WithIdempotencyKey("k"))
	require.NoError(t, err)
	k2, err := l.TrackTx(ctx, tx, nil, "keyed", nil, audit.WithIdempotencyKey("k"))
	require.NoError(t, err)
	require.Equal(t, k1.ID, k2.ID)
	require.NoError(t, tx.Commit())
	p, err := l.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 3, p.TotalCount)
}

func TestDefaultLogger(t *testing.T) {
	// Not parallel: it sets the package default.
	ctx := t.Context()
	prev := audit.Default()
	t.Cleanup(func() { audit.SetDefault(prev) })
	audit.SetDefault(nil)
	_, err := audit.Track(ctx, nil, "no.default", nil)
	require.ErrorIs(t, err, audit.ErrNoDefault)
	l, _ := setup(t)
	audit.SetDefault(l)
	require.Same(t, l, audit.Default())
	e, err := audit.Track(ctx, nil, "via.default", nil)
	require.NoError(t, err)
	got, err := l.Get(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, "via.default", got.Action)
	e, err = audit.Record(ctx, audit.Event{Action: "via.default.record"})
	require.NoError(t, err)
	require.Equal(t, int64(2), e.Seq)
}

// TestKillNine kills a writing process at random moments, round after
// round: every event whose id the child printed after Track returned must be
// in the file afterwards, the file passes integrity_check and the chain
// verifies.
func TestKillNine(t *testing.T) {
	if path := os.Getenv("AUDIT_KILL_CHILD_DB"); path != "" {
		killChild(path)
		return
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.db")
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	var acked []string
	for round := range rounds {
		acked = append(acked, killRound(t, path, round)...)
	}
	require.NotEmpty(t, acked)
	l, err := audit.Open(t.Context(), path)
	require.NoError(t, err)
	defer l.Close()
	for _, id := range acked {
		_, err := l.Get(t.Context(), id)
		require.NoError(t, err, "acknowledged event %s lost", id)
	}
	var ok string
	require.NoError(t, l.Store().(*audit.SQLiteStore).DB().Get(&ok, `PRAGMA integrity_check`))
	require.Equal(t, "ok", ok)
	p, err := l.Recent(t.Context(), audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.GreaterOrEqual(t, p.TotalCount, len(acked))
	require.Equal(t, int64(p.TotalCount), p.Entries[0].Seq, "seq stays gapless across crashes")
	rep, err := l.Verify(t.Context())
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: int64(p.TotalCount), OK: true}, rep, "the chain survives every crash")
	t.Logf("%d rounds, %d acknowledged events, %d stored", rounds, len(acked), p.TotalCount)
}

func killRound(t *testing.T, path string, round int) []string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillNine$")
	cmd.Env = append(os.Environ(), "AUDIT_KILL_CHILD_DB="+path)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	var ids []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
				ids = append(ids, id)
			}
		}
	}()
	time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL), "round %d", round)
	<-done
	_ = cmd.Wait()
	return ids
}

// killChild writes until it is killed, printing each id once Track returns.
func killChild(path string) {
	ctx := context.Background()
	l, err := audit.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				e, err := l.Track(ctx, audit.Ref{Type: "worker", ID: fmt.Sprint(w)}, "crash.test", nil,
					audit.WithMeta("i", i))
				if err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "acked %s\n", e.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestAppendIsolatesFailures appends a batch in which one event breaks a
// constraint (an application's own trigger refuses it): it fails alone, the
// others are stored with gapless seqs and an intact chain.
func TestAppendIsolatesFailures(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "audit.db")
	store, err := audit.OpenSQLite(ctx, path)
	require.NoError(t, err)
	_, err = openAppDB(t, path).Exec(`CREATE TRIGGER app_refuses BEFORE INSERT ON audit_events
		WHEN NEW.action = 'batch.refused' BEGIN SELECT RAISE(ABORT, 'refused by the application'); END`)
	require.NoError(t, err)
	l, err := audit.New(store)
	require.NoError(t, err)
	defer l.Close()
	now := time.Now()
	var batch []audit.Event
	for i := range 70 { // more than one multi-row INSERT
		batch = append(batch, audit.Event{ID: fmt.Sprintf("id-%d", i), Action: "batch.item", Outcome: audit.OutcomeSuccess, OccurredAt: now, Actor: audit.Ref{ID: "a"}})
	}
	batch[40].Action = "batch.refused"
	res, err := store.Append(ctx, batch)
	require.NoError(t, err)
	require.Len(t, res, 70)
	seq := int64(0)
	for i, r := range res {
		if i == 40 {
			require.ErrorContains(t, r.Err, "refused by the application")
			continue
		}
		require.NoError(t, r.Err, i)
		seq++
		require.Equal(t, seq, r.Event.Seq, i)
	}
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 69, OK: true}, rep)
	p, err := l.Recent(ctx, audit.Query{ActorID: "a"})
	require.NoError(t, err)
	require.Equal(t, 69, p.TotalCount, "the counters count what was stored")
	acts, err := l.Actions(ctx, "batch", 10)
	require.NoError(t, err)
	require.Equal(t, []audit.ActionCount{{Action: "batch.item", Count: 69}}, acts)
}

// TestRecordDeadlines gives writers deadlines too short to meet: a call
// that fails with its context's error recorded nothing, a call that
// succeeds recorded its event, and nothing is left behind afterwards.
// TestCancelledContextStillRecords replaces TestRecordDeadlines, which
// asserted the opposite: a caller whose context ends (a client that
// disconnects after its project was deleted) no longer withdraws the event.
// Every call, with contexts ending at random moments or ended before the
// call, records its event and says so.
func TestCancelledContextStillRecords(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for i := range 40 {
				ctx, cancel := context.WithTimeout(t.Context(), time.Duration(rand.IntN(3000))*time.Microsecond)
				if i%4 == 0 {
					cancel() // ended before the call
				}
				e, err := l.Track(ctx, audit.Ref{ID: fmt.Sprint(w)}, "deadline.test", nil, audit.WithMeta("i", i))
				cancel()
				if err == nil && e.Seq == 0 {
					err = fmt.Errorf("no seq for a recorded event")
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	p, err := l.Recent(t.Context(), audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.Equal(t, 32*40, p.TotalCount, "every event was recorded")
}

// TestWriteTimeout: with WithWriteTimeout, an event that waits longer for
// its transaction is withdrawn and reported as not recorded; exactly the
// calls that succeed are in the log.
func TestWriteTimeout(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	gate := &gateStore{Store: newFileStore(t), open: make(chan struct{}), entered: make(chan struct{})}
	l, err := audit.New(gate, audit.WithWriteTimeout(20*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })

	// The first event holds the writer (its Append waits at the gate), so
	// the next ones queue behind it past their timeout.
	first := make(chan error, 1)
	go func() { _, err := l.Track(context.Background(), nil, "held.write", nil); first <- err }()
	<-gate.entered
	var wg sync.WaitGroup
	results := make([]error, 8)
	for i := range results {
		wg.Go(func() { _, results[i] = l.Track(ctx, nil, "queued.write", nil) })
	}
	wg.Wait()
	close(gate.open)
	require.NoError(t, <-first, "an event whose transaction started is waited for")
	for _, err := range results {
		require.ErrorIs(t, err, audit.ErrWriteTimeout)
		require.ErrorContains(t, err, "not recorded")
	}
	p, err := l.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 1, p.TotalCount)
	require.Equal(t, "held.write", p.Entries[0].Action)
	_, err = l.Track(ctx, nil, "after.timeouts", nil)
	require.NoError(t, err, "the log still works")
}

// gateStore holds every Append until open is closed, after telling
// entered.
type gateStore struct {
	audit.Store
	open    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (g *gateStore) Append(ctx context.Context, events []audit.Event) ([]audit.AppendResult, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.open
	return g.Store.Append(ctx, events)
}

func newFileStore(t *testing.T) audit.Store {
	t.Helper()
	s, err := audit.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	return s
}

// openDump loads testdata/name (the sqlite3 shell's .dump of a file an
// earlier release wrote) into a new file and opens it, migrating it; the
// log is closed when t ends.
func openDump(t *testing.T, name string) *audit.Logger {
	t.Helper()
	dump, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "release.db")
	db := openAppDB(t, path)
	_, err = db.ExecContext(t.Context(), string(dump))
	require.NoError(t, err)
	require.NoError(t, db.Close())
	l, err := audit.Open(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l
}

// TestUpgradeFromPreviousRelease opens a file written by the previous
// release (testdata/release-2026-12-02.sql: the sqlite3 shell's .dump of a
// file that release wrote, schema migrations 1 to 3, chain version 2) and
// checks that it migrates, verifies, and answers every new read exactly.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := openDump(t, "release-2026-12-02.sql")
	require.Equal(t, []int{4, 5}, l.Store().(*audit.SQLiteStore).Migrated())
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 24, OK: true}, rep)

	all := l.AllTenants()
	var events []audit.Event
	for e, err := range all.All(ctx, audit.Query{Order: audit.OldestFirst}) {
		require.NoError(t, err)
		require.Equal(t, 2, e.ChainVersion)
		events = append(events, e)
	}
	require.Len(t, events, 24)
	count := func(keep func(audit.Event) bool) int {
		n := 0
		for _, e := range events {
			if keep(e) {
				n++
			}
		}
		return n
	}
	for name, c := range map[string]struct {
		q    audit.Query
		keep func(audit.Event) bool
	}{
		"account as target": {audit.Query{Subject: "acct_1"}, func(e audit.Event) bool { return e.Targets[0].ID == "acct_1" }},
		"project":           {audit.Query{Subject: "prj_2", SubjectType: "project"}, func(e audit.Event) bool { return e.Resource.ID == "prj_2" }},
		"failures":          {audit.Query{Outcome: audit.OutcomeFailure}, func(e audit.Event) bool { return e.Outcome == audit.OutcomeFailure }},
		"actor":             {audit.Query{ActorID: "1", ActorType: "user"}, func(e audit.Event) bool { return e.Actor.ID == "1" }},
		"system":            {audit.Query{ActorType: ""}, func(audit.Event) bool { return true }},
	} {
		c.q.PerPage = 100
		p, err := all.Recent(ctx, c.q)
		require.NoError(t, err, name)
		require.Equal(t, count(c.keep), p.TotalCount, name)
		require.Len(t, p.Entries, p.TotalCount, name)
	}
	got, err := all.Suggest(ctx, "zoë", 5)
	require.NoError(t, err)
	require.Equal(t, []audit.Suggestion{{Kind: "resource", Value: "acct_0", Type: "billing_account", Name: "Zoë & Co", Count: 8},
		{Kind: "resource", Value: "acct_1", Type: "billing_account", Name: "Zoë & Co", Count: 8},
		{Kind: "resource", Value: "acct_2", Type: "billing_account", Name: "Zoë & Co", Count: 8}}, got)

	// New events chain on; the export of both versions verifies offline.
	_, err = l.WithTenant("acme").Track(ctx, nil, "after.upgrade", nil, audit.WithTargets(audit.Ref{Type: "billing_account", ID: "acct_1"}))
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = all.Export(ctx, &buf, audit.ExportJSONL, audit.Query{})
	require.NoError(t, err)
	rep, err = audit.VerifyExport(&buf, nil)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 25, OK: true}, rep)
	rep, err = l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
}
