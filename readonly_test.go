package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// fileSum is the SHA-256 of the file at path.
func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(raw)
}

// TestReadOnlyWritesNothing opens a log WithReadOnly: every way of writing
// fails with ErrReadOnly, through every view; every way of reading works;
// and the database file is byte for byte what it was.
func TestReadOnlyWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := chainLog(t, 30)
	before := fileSum(t, path)
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)

	l, err := audit.Open(ctx, path, audit.WithReadOnly(), audit.WithCheckpointKey(priv), audit.WithTailPoll(10*time.Millisecond))
	require.NoError(t, err)
	require.Empty(t, l.Store().(*audit.SQLiteStore).Migrated())

	all := l.AllTenants()
	for _, v := range []*audit.Logger{l, all, l.WithTenant("acme")} {
		_, err = v.Track(ctx, nil, "read.only", nil)
		require.ErrorIs(t, err, audit.ErrReadOnly)
		require.Equal(t, 1, strings.Count(err.Error(), "audit:"), err.Error())
		_, err = v.Track(ctx, nil, "", nil) // refused as read-only before it is validated
		require.ErrorIs(t, err, audit.ErrReadOnly)
		_, err = v.Record(ctx, audit.Event{Action: "read.only"})
		require.ErrorIs(t, err, audit.ErrReadOnly)
		_, err = v.TrackTx(ctx, nil, nil, "read.only", nil)
		require.ErrorIs(t, err, audit.ErrReadOnly)
		_, err = v.RecordTx(ctx, nil, audit.Event{Action: "read.only"})
		require.ErrorIs(t, err, audit.ErrReadOnly)
		_, err = v.Listen(ctx, audit.NewBus())
		require.ErrorIs(t, err, audit.ErrReadOnly)
	}
	_, err = l.Store().Append(ctx, []audit.Event{{Action: "read.only"}})
	require.ErrorIs(t, err, audit.ErrReadOnly)
	require.ErrorIs(t, l.Store().(*audit.SQLiteStore).SetMaxBytes(ctx, 1<<20), audit.ErrReadOnly)

	// Reads.
	p, err := all.Recent(ctx, audit.Query{PerPage: 100})
	require.NoError(t, err)
	require.Equal(t, 30, p.TotalCount)
	mine, err := l.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 10, mine.TotalCount, "the root logger reads the default tenant")
	e, err := all.Get(ctx, p.Entries[0].ID)
	require.NoError(t, err)
	require.Equal(t, int64(30), e.Seq)
	found, err := all.Suggest(ctx, "doc", 3)
	require.NoError(t, err)
	require.NotEmpty(t, found)
	var n int
	for _, err := range all.All(ctx, audit.Query{}) {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 30, n)
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	n = 0
	for _, err := range all.Tail(tctx, 20, audit.Query{}) {
		require.NoError(t, err)
		n++
	}
	cancel()
	require.Equal(t, 10, n)

	// Integrity: Verify, a signed checkpoint, an export that verifies, a
	// backup that verifies.
	cp, err := l.Checkpoint(ctx)
	require.NoError(t, err)
	require.True(t, cp.Signed())
	require.Equal(t, int64(30), cp.Seq)
	rep, err := l.Verify(ctx, cp)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 30, OK: true}, rep)
	var buf bytes.Buffer
	_, err = all.Export(ctx, &buf, audit.ExportJSONL, audit.Query{})
	require.NoError(t, err)
	rep, err = audit.VerifyExport(&buf, pub)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 30, OK: true}, rep)
	copyPath := filepath.Join(t.TempDir(), "backup.db")
	require.NoError(t, l.Backup(ctx, copyPath))
	require.NoError(t, l.Close())

	require.Equal(t, before, fileSum(t, path), "the database file is unchanged")
	if wal, err := os.Stat(path + "-wal"); err == nil {
		require.Zero(t, wal.Size(), "nothing in the WAL")
	}

	b, err := audit.Open(ctx, copyPath, audit.WithReadOnly())
	require.NoError(t, err)
	defer b.Close()
	rep, err = b.Verify(ctx, cp)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 30, OK: true}, rep)
}

// TestReadOnlyRefusesFiles: WithReadOnly creates nothing, refuses a schema
// newer or older than the one this release reads, and a database with no
// audit tables, each with an error that says what to do, and changes none
// of them.
func TestReadOnlyRefusesFiles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()

	missing := filepath.Join(dir, "missing.db")
	_, err := audit.Open(ctx, missing, audit.WithReadOnly())
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Equal(t, 1, strings.Count(err.Error(), "audit:"), err.Error())
	for _, suffix := range []string{"", "-wal", "-shm"} {
		require.NoFileExists(t, missing+suffix)
	}

	_, err = audit.Open(ctx, dir, audit.WithReadOnly())
	require.ErrorContains(t, err, "a directory")

	junk := filepath.Join(dir, "junk.db")
	require.NoError(t, os.WriteFile(junk, bytes.Repeat([]byte("not sqlite "), 1000), 0o644))
	_, err = audit.Open(ctx, junk, audit.WithReadOnly())
	require.ErrorContains(t, err, "not a database")

	// A newer release migrated the file past what this one knows.
	newer := chainLog(t, 3)
	db := openAppDB(t, newer)
	_, err = db.ExecContext(ctx, `INSERT INTO audit_schema_migrations (version, applied_at) VALUES (99, 0)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	sum := fileSum(t, newer)
	_, err = audit.Open(ctx, newer, audit.WithReadOnly())
	require.ErrorIs(t, err, audit.ErrSchemaTooNew)
	require.ErrorContains(t, err, "schema version 99")
	require.Equal(t, 1, strings.Count(err.Error(), "audit:"), err.Error())
	require.Equal(t, sum, fileSum(t, newer))
	// Nor does this release write into it: its derived tables and insert
	// trigger may be kept otherwise there.
	_, err = audit.Open(ctx, newer)
	require.ErrorIs(t, err, audit.ErrSchemaTooNew)
	require.ErrorContains(t, err, "schema version 99")
	require.Equal(t, 1, strings.Count(err.Error(), "audit:"), err.Error())
	db = openAppDB(t, newer)
	_, err = audit.NewSQLiteStore(ctx, db)
	require.ErrorIs(t, err, audit.ErrSchemaTooNew)
	require.NoError(t, db.Close())
	db = openAppDB(t, newer)
	var events, version int
	require.NoError(t, db.GetContext(ctx, &events, `SELECT count(*) FROM audit_events`))
	require.NoError(t, db.GetContext(ctx, &version, `SELECT max(version) FROM audit_schema_migrations`))
	require.NoError(t, db.Close())
	require.Equal(t, []int{3, 99}, []int{events, version})

	// An application's database without the audit tables.
	app := filepath.Join(dir, "app.db")
	db = openAppDB(t, app)
	_, err = db.ExecContext(ctx, `CREATE TABLE projects (id INTEGER PRIMARY KEY)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = audit.Open(ctx, app, audit.WithReadOnly())
	require.ErrorIs(t, err, audit.ErrSchemaNotMigrated)
	require.ErrorContains(t, err, "no audit tables")
	db = openAppDB(t, app)
	var tables int
	require.NoError(t, db.GetContext(ctx, &tables, `SELECT count(*) FROM sqlite_master WHERE name LIKE 'audit%'`))
	require.Zero(t, tables, "nothing created")
	require.NoError(t, db.Close())

	// A file of the previous release (schema migrations 1 to 3): refused
	// until it is opened once for writing, which migrates it.
	old := filepath.Join(dir, "release.db")
	dump, err := os.ReadFile(filepath.Join("testdata", "release-2026-12-02.sql"))
	require.NoError(t, err)
	db = openAppDB(t, old)
	_, err = db.ExecContext(ctx, string(dump))
	require.NoError(t, err)
	require.NoError(t, db.Close())
	sum = fileSum(t, old)
	_, err = audit.Open(ctx, old, audit.WithReadOnly())
	require.ErrorIs(t, err, audit.ErrSchemaNotMigrated)
	require.ErrorContains(t, err, "schema version 3")
	require.ErrorContains(t, err, "open the log once for writing")
	require.Equal(t, sum, fileSum(t, old), "not migrated")
	l, err := audit.Open(ctx, old)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	l, err = audit.Open(ctx, old, audit.WithReadOnly())
	require.NoError(t, err)
	p, err := l.AllTenants().Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 24, p.TotalCount)
	require.NoError(t, l.Close())
}

// TestReadOnlyOptions: options that configure writing are refused
// together with WithReadOnly (so no checkpoint file is ever written); a
// read-only store refuses Append, and New WithReadOnly refuses writes
// whatever its store.
func TestReadOnlyOptions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := chainLog(t, 3)
	for _, o := range []audit.Option{
		audit.WithCheckpointFile("", 1, 0), audit.WithDurability(audit.DurabilityFull), audit.WithMaxBytes(1 << 20),
		audit.WithMaxBatch(8), audit.WithMaxMetadataBytes(100), audit.WithMaxEventBytes(1 << 20),
		audit.WithWriteTimeout(time.Second), audit.WithRedactKeys("x"), audit.WithListenerWorkers(2),
		audit.WithRetryBackoff(time.Second, time.Second),
	} {
		_, err := audit.Open(ctx, path, audit.WithReadOnly(), o)
		require.ErrorIs(t, err, audit.ErrInvalidOption)
		require.ErrorContains(t, err, "configures writing")
		require.Equal(t, 1, strings.Count(err.Error(), "audit:"), err.Error())
	}
	require.NoFileExists(t, path+".checkpoints")

	// Options of reading go with it.
	l, err := audit.Open(ctx, path, audit.WithReadOnly(), audit.WithBusyTimeout(time.Second), audit.WithReaders(2),
		audit.WithTailPoll(time.Second), audit.WithBus(audit.NewBus()))
	require.NoError(t, err)
	require.NoError(t, l.Close())

	store, err := audit.OpenSQLite(ctx, path, audit.WithReadOnly())
	require.NoError(t, err)
	l, err = audit.New(store)
	require.NoError(t, err)
	_, err = l.Track(ctx, nil, "read.only", nil)
	require.ErrorIs(t, err, audit.ErrReadOnly)
	require.NoError(t, l.Close())

	store, err = audit.OpenSQLite(ctx, path)
	require.NoError(t, err)
	l, err = audit.New(store, audit.WithReadOnly())
	require.NoError(t, err)
	_, err = l.Track(ctx, nil, "read.only", nil)
	require.ErrorIs(t, err, audit.ErrReadOnly)
	p, err := l.AllTenants().Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 3, p.TotalCount)
	require.NoError(t, l.Close())
}

// TestReadOnlyKeepsJournalMode: a log in an application's database in
// rollback-journal mode is read as it is; a read-only opening does not
// switch it to WAL.
func TestReadOnlyKeepsJournalMode(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sqlx.Open("sqlite", "file:"+path+"?_pragma=journal_mode(DELETE)&_pragma=busy_timeout(10000)&_txlock=immediate")
	require.NoError(t, err)
	store, err := audit.NewSQLiteStore(ctx, db)
	require.NoError(t, err)
	w, err := audit.New(store)
	require.NoError(t, err)
	for range 5 {
		_, err = w.Track(ctx, nil, "journal.rollback", nil)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	require.NoError(t, db.Close())
	before := fileSum(t, path)

	l, err := audit.Open(ctx, path, audit.WithReadOnly())
	require.NoError(t, err)
	p, err := l.Recent(ctx, audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 5, p.TotalCount)
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	require.NoError(t, l.Close())

	require.Equal(t, before, fileSum(t, path))
	require.NoFileExists(t, path+"-wal")
	header, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, []byte{1, 1}, header[18:20], "the file format bytes still say rollback journal, not WAL")
}

// TestReadOnlyWhileAnotherProcessWrites reads, verifies and tails, read-only,
// a log that two other processes write meanwhile: pages stay consistent,
// the tail yields every event in order once, and Verify is OK throughout.
func TestReadOnlyWhileAnotherProcessWrites(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "audit.db")
	w, err := audit.Open(ctx, path)
	require.NoError(t, err)
	_, err = w.Track(ctx, nil, "before.children", nil)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	l, err := audit.Open(ctx, path, audit.WithReadOnly(), audit.WithTailPoll(20*time.Millisecond))
	require.NoError(t, err)
	defer l.Close()

	const procs, each = 2, 200
	type result struct {
		events []audit.Event
		err    error
	}
	tailed := make(chan result, 1)
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	go func() {
		var got []audit.Event
		for e, err := range l.Tail(tctx, 1, audit.Query{Action: "multi.write"}) {
			if err != nil {
				tailed <- result{got, err}
				return
			}
			if got = append(got, e); len(got) == procs*each {
				break
			}
		}
		tailed <- result{got, nil}
	}()

	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, procs)
	errs := make([]error, procs)
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMultiProcess$")
		cmd.Env = append(os.Environ(), "AUDIT_MULTI_CHILD_DB="+path, "AUDIT_MULTI_CHILD_NAME="+strconv.Itoa(p),
			"AUDIT_MULTI_CHILD_EACH="+strconv.Itoa(each))
		cmd.Stdout, cmd.Stderr = &outs[p], &outs[p]
		wg.Go(func() { errs[p] = cmd.Run() })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	last, reads := 0, 0
	for running := true; running; reads++ {
		select {
		case <-done:
			running = false
		default:
		}
		p, err := l.Recent(ctx, audit.Query{PerPage: 10})
		require.NoError(t, err)
		require.GreaterOrEqual(t, p.TotalCount, last, "totals never go back")
		require.LessOrEqual(t, len(p.Entries), min(10, p.TotalCount))
		for i := 1; i < len(p.Entries); i++ {
			require.Equal(t, p.Entries[i-1].Seq-1, p.Entries[i].Seq, "a page is a contiguous stretch, newest first")
		}
		last = p.TotalCount
		if reads%20 == 0 {
			rep, err := l.Verify(ctx)
			require.NoError(t, err)
			require.True(t, rep.OK, rep.Reason)
		}
	}
	for p := range procs {
		require.NoError(t, errs[p], "process %d: %s", p, outs[p].String())
	}
	r := <-tailed
	require.NoError(t, r.err)
	require.Len(t, r.events, procs*each)
	for i, e := range r.events {
		require.Equal(t, int64(i+2), e.Seq, "in order, none skipped or repeated")
	}
	p, err := l.Recent(ctx, audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.Equal(t, 1+procs*each, p.TotalCount)
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 1 + procs*each, OK: true}, rep)
	t.Logf("%d reads while the others wrote", reads)
}

// TestReadOnlyDirectoryNotWritable reads, as a user who may not write the
// directory, a WAL log: with no application holding it open there is no
// -shm file, which SQLite must create to read it, and the error says so;
// while an application has it open, it reads. (Root may write anything,
// so as root the reader runs as nobody.)
func TestReadOnlyDirectoryNotWritable(t *testing.T) {
	if path := os.Getenv("AUDIT_RODIR_CHILD_DB"); path != "" {
		l, err := audit.Open(context.Background(), path, audit.WithReadOnly())
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		defer l.Close()
		p, err := l.Recent(context.Background(), audit.Query{})
		fmt.Println("read:", p.TotalCount, err)
		return
	}
	t.Parallel()
	ctx := t.Context()
	dir, err := os.MkdirTemp("", "audit-rodir-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755); _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "audit.db")
	w, err := audit.Open(ctx, path)
	require.NoError(t, err)
	for range 5 {
		_, err = w.Track(ctx, nil, "before.reading", nil)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	require.NoFileExists(t, path+"-shm")

	child := func() string {
		t.Helper()
		bin := os.Args[0]
		cmd := exec.Command(bin, "-test.run=^TestReadOnlyDirectoryNotWritable$")
		cmd.Env = append(os.Environ(), "AUDIT_RODIR_CHILD_DB="+path)
		if os.Geteuid() == 0 {
			// A copy of the test binary that nobody may run.
			binDir, err := os.MkdirTemp("", "audit-rodir-bin-")
			require.NoError(t, err)
			t.Cleanup(func() { _ = os.RemoveAll(binDir) })
			require.NoError(t, os.Chmod(binDir, 0o755))
			raw, err := os.ReadFile(bin)
			require.NoError(t, err)
			bin = filepath.Join(binDir, "child.test")
			require.NoError(t, os.WriteFile(bin, raw, 0o755))
			cmd = exec.Command(bin, "-test.run=^TestReadOnlyDirectoryNotWritable$")
			cmd.Env = append(os.Environ(), "AUDIT_RODIR_CHILD_DB="+path, "HOME="+binDir, "GOCACHE=off")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}

	require.NoError(t, os.Chmod(dir, 0o555))
	out := child()
	require.Contains(t, out, "error: audit: open "+path+" read-only")
	require.Contains(t, out, "-shm")
	require.NotContains(t, out, "panic")
	t.Log(strings.TrimSpace(out))

	// The application opens it (creating its -wal and -shm), and goes on
	// writing: now the reader reads.
	require.NoError(t, os.Chmod(dir, 0o755))
	w, err = audit.Open(ctx, path)
	require.NoError(t, err)
	defer w.Close()
	_, err = w.Track(ctx, nil, "while.reading", nil)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o555))
	out = child()
	require.Contains(t, out, "read: 6 <nil>")
}
