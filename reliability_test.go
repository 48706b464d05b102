package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// TestMultiProcess runs three processes writing one file at once: no
// "database is locked", every row present, Seq gapless, the chain intact.
func TestMultiProcess(t *testing.T) {
	if path := os.Getenv("AUDIT_MULTI_CHILD_DB"); path != "" {
		multiChild(path, os.Getenv("AUDIT_MULTI_CHILD_NAME"))
		return
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.db")
	const procs, each = 3, 400
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
	wg.Wait()
	for p := range procs {
		require.NoError(t, errs[p], "process %d: %s", p, outs[p].String())
		require.NotContains(t, outs[p].String(), "locked")
	}
	l, err := audit.Open(t.Context(), path)
	require.NoError(t, err)
	defer l.Close()
	p, err := l.Recent(t.Context(), audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.Equal(t, procs*each, p.TotalCount)
	require.Equal(t, int64(procs*each), p.Entries[0].Seq, "gapless")
	for proc := range procs {
		q, err := l.Recent(t.Context(), audit.Query{ActorID: strconv.Itoa(proc)})
		require.NoError(t, err)
		require.Equal(t, each, q.TotalCount)
	}
	rep, err := l.Verify(t.Context())
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: procs * each, OK: true}, rep)
}

func multiChild(path, name string) {
	ctx := context.Background()
	each, _ := strconv.Atoi(os.Getenv("AUDIT_MULTI_CHILD_EACH"))
	l, err := audit.Open(ctx, path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var wg sync.WaitGroup
	failed := make(chan error, each)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < each; i += 4 {
				if _, err := l.Track(ctx, audit.Ref{Type: "process", ID: name}, "multi.write", nil, audit.WithMeta("i", i)); err != nil {
					failed <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(failed)
	for err := range failed {
		fmt.Println("track:", err)
		os.Exit(1)
	}
	if err := l.Close(); err != nil {
		fmt.Println("close:", err)
		os.Exit(1)
	}
}

// TestDiskFull fills the database to its cap: the write fails with
// ErrDiskFull and stores nothing, the head does not move, earlier events
// stay readable, and writing works again once there is room.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store, err := audit.OpenSQLite(ctx, filepath.Join(t.TempDir(), "audit.db"), audit.WithMaxBytes(256<<10))
	require.NoError(t, err)
	l, err := audit.New(store)
	require.NoError(t, err)
	defer l.Close()
	first, err := l.Track(ctx, nil, "fill.first", nil)
	require.NoError(t, err)
	blob := strings.Repeat("x", 4000)
	var full error
	for i := range 1000 {
		if _, err := l.Track(ctx, nil, "fill.up", nil, audit.WithMeta("blob", blob), audit.WithMeta("i", i)); err != nil {
			full = err
			break
		}
	}
	require.ErrorIs(t, full, audit.ErrDiskFull)
	require.Contains(t, full.Error(), "full")

	before, err := l.Checkpoint(ctx)
	require.NoError(t, err)
	// Concurrent writes in the failing batches all fail, and none lands.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = l.Track(ctx, nil, "fill.more", nil, audit.WithMeta("blob", blob))
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, audit.ErrDiskFull)
	}
	after, err := l.Checkpoint(ctx)
	require.NoError(t, err)
	require.Equal(t, before.Seq, after.Seq, "the head does not move")
	require.Equal(t, before.Hash, after.Hash)
	p, err := l.Recent(ctx, audit.Query{Action: "fill.more"})
	require.NoError(t, err)
	require.Zero(t, p.TotalCount, "nothing partial: not even the counters moved")
	got, err := l.Get(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, "fill.first", got.Action)

	// Room again.
	require.NoError(t, store.SetMaxBytes(ctx, 0))
	e, err := l.Track(ctx, nil, "fill.after", nil, audit.WithMeta("blob", blob))
	require.NoError(t, err)
	require.Equal(t, before.Seq+1, e.Seq)
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	require.Equal(t, e.Seq, rep.Checked)
}

// TestBadFiles: files that cannot hold a log give clear errors from Open or
// Track, never a panic.
func TestBadFiles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()

	_, err := audit.Open(ctx, dir)
	require.Error(t, err, "a directory")

	corrupt := filepath.Join(dir, "corrupt.db")
	junk := make([]byte, 64<<10)
	_, _ = rand.Read(junk)
	require.NoError(t, os.WriteFile(corrupt, junk, 0o644))
	_, err = audit.Open(ctx, corrupt)
	require.ErrorContains(t, err, "not a database")

	// A valid SQLite file whose header was damaged after the log was written.
	damaged := chainLog(t, 3)
	f, err := os.OpenFile(damaged, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("garbage!garbage!"), 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = audit.Open(ctx, damaged)
	require.Error(t, err)

	// An application table already called audit_events.
	clash := filepath.Join(dir, "clash.db")
	db := openAppDB(t, clash)
	_, err = db.Exec(`CREATE TABLE audit_events (x INTEGER)`)
	require.NoError(t, err)
	_, err = audit.Open(ctx, clash)
	require.ErrorContains(t, err, "migrate")

	// Removed underneath: writes go on to the open file or fail; no panic.
	gone := filepath.Join(dir, "gone.db")
	l, err := audit.Open(ctx, gone)
	require.NoError(t, err)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(gone + suffix)
	}
	_, _ = l.Track(ctx, nil, "after.remove", nil)
	_, _ = l.Recent(ctx, audit.Query{})
	require.NoError(t, l.Close())

	// The store closed underneath the logger.
	l, err = audit.Open(ctx, filepath.Join(dir, "closed.db"))
	require.NoError(t, err)
	require.NoError(t, l.Store().Close())
	_, err = l.Track(ctx, nil, "after.store.close", nil)
	require.ErrorIs(t, err, audit.ErrClosed)
	_, err = l.Recent(ctx, audit.Query{})
	require.ErrorIs(t, err, audit.ErrClosed)
	require.NoError(t, l.Close())
}

// TestReadOnlyFile opens a file the process may not write. Root may write
// any file, so as root the check runs in a child process as nobody.
func TestReadOnlyFile(t *testing.T) {
	if path := os.Getenv("AUDIT_RO_CHILD_DB"); path != "" {
		l, err := audit.Open(context.Background(), path)
		if err == nil {
			_, err = l.Track(context.Background(), nil, "read.only", nil)
			_ = l.Close()
		}
		if err == nil {
			fmt.Println("no error from a read-only file")
			os.Exit(1)
		}
		fmt.Println("error:", err)
		return
	}
	t.Parallel()
	dir, err := os.MkdirTemp("", "audit-ro-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "audit.db")
	l, err := audit.Open(t.Context(), path)
	require.NoError(t, err)
	_, err = l.Track(t.Context(), nil, "written", nil)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.NoError(t, os.Chmod(path, 0o444))
	require.NoError(t, os.Chmod(dir, 0o555))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })

	bin := os.Args[0]
	cmd := exec.Command(bin, "-test.run=^TestReadOnlyFile$")
	cmd.Env = append(os.Environ(), "AUDIT_RO_CHILD_DB="+path)
	if os.Geteuid() == 0 {
		// Copy the test binary where nobody can run it.
		raw, err := os.ReadFile(bin)
		require.NoError(t, err)
		require.NoError(t, os.Chmod(dir, 0o755))
		bin = filepath.Join(dir, "child.test")
		require.NoError(t, os.WriteFile(bin, raw, 0o755))
		require.NoError(t, os.Chmod(dir, 0o555))
		cmd = exec.Command(bin, "-test.run=^TestReadOnlyFile$")
		cmd.Env = append(os.Environ(), "AUDIT_RO_CHILD_DB="+path, "HOME="+dir, "GOCACHE=off")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "error:")
	require.NotContains(t, string(out), "panic")
	t.Log(strings.TrimSpace(string(out)))
}

// TestBackup copies the log while writers run: the copy opens and verifies
// on its own and holds every event acknowledged before Backup was called,
// including those still in the WAL (which a plain file copy would miss).
func TestBackup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, path := setup(t)
	for i := range 200 {
		_, err := l.WithTenant([]string{"", "acme"}[i%2]).Track(ctx, nil, "before.backup", nil, audit.WithMeta("i", i))
		require.NoError(t, err)
	}
	// The events are in the WAL: a copy of the main file alone lacks them.
	wal, err := os.Stat(path + "-wal")
	require.NoError(t, err)
	require.Positive(t, wal.Size())

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var writeErrs []error
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := l.Track(ctx, audit.Ref{ID: fmt.Sprint(w)}, "during.backup", nil); err != nil {
					mu.Lock()
					writeErrs = append(writeErrs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	copyPath := filepath.Join(t.TempDir(), "backup.db")
	err = l.Backup(ctx, copyPath)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	require.Empty(t, writeErrs)

	b, err := audit.Open(ctx, copyPath)
	require.NoError(t, err)
	defer b.Close()
	rep, err := b.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	require.GreaterOrEqual(t, rep.Checked, int64(200))
	before, err := b.Search(ctx, "before.backup", audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.Equal(t, 100, before.TotalCount, "the default tenant's events before the backup")
	acme, err := b.WithTenant("acme").Recent(ctx, audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.Equal(t, 100, acme.TotalCount)

	// Only the root logger copies the log: a view would hand out every
	// tenant's events.
	for _, v := range []*audit.Logger{l.WithTenant("acme"), l.AllTenants()} {
		require.ErrorIs(t, v.Backup(ctx, filepath.Join(t.TempDir(), "view.db")), audit.ErrOutOfScope)
	}
	// An existing file is never overwritten.
	err = l.Backup(ctx, copyPath)
	require.ErrorIs(t, err, os.ErrExist)
	require.NoError(t, l.Close())
	require.ErrorIs(t, l.Backup(ctx, filepath.Join(t.TempDir(), "late.db")), audit.ErrClosed)
}

// TestTailSeesOtherProcesses: a tail in this process yields, in order and
// once each, the events that two other processes write into the same file
// while it runs (they arrive within the poll interval).
func TestTailSeesOtherProcesses(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "audit.db")
	l, err := audit.Open(ctx, path, audit.WithTailPoll(20*time.Millisecond))
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Track(ctx, nil, "before.children", nil)
	require.NoError(t, err)

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
	wg.Wait()
	for p := range procs {
		require.NoError(t, errs[p], "process %d: %s", p, outs[p].String())
	}
	r := <-tailed
	require.NoError(t, r.err)
	require.Len(t, r.events, procs*each)
	for i, e := range r.events {
		require.Equal(t, int64(i+2), e.Seq, "in order, none skipped or repeated")
	}
}

// notifyingStore is a SQLite store that hears of commits as a
// audit.Notifier does: the test sends on notify what a NOTIFY would carry.
type notifyingStore struct {
	*audit.SQLiteStore
	notify    chan int64
	listening atomic.Int32 // how many Notifications run
}

func (s *notifyingStore) Notifications(ctx context.Context) iter.Seq2[int64, error] {
	return func(yield func(int64, error) bool) {
		s.listening.Add(1)
		defer s.listening.Add(-1)
		if !yield(0, nil) {
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case seq := <-s.notify:
				if !yield(seq, nil) {
					return
				}
			}
		}
	}
}

// TestTailWokenByNotifier: on a store that is a Notifier, a Tail yields what
// another process commits as soon as the store hears of it, not at its
// poll (an hour here); one listener serves the tails while they run, and
// ends with the last of them, or with Close.
func TestTailWokenByNotifier(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "audit.db")
	sqlite, err := audit.OpenSQLite(ctx, path)
	require.NoError(t, err)
	s := &notifyingStore{SQLiteStore: sqlite, notify: make(chan int64)}
	l, err := audit.New(s, audit.WithTailPoll(time.Hour))
	require.NoError(t, err)
	defer l.Close()
	other, err := audit.Open(ctx, path) // another process, as far as l knows
	require.NoError(t, err)
	defer other.Close()

	tail := func(ctx context.Context, got chan<- audit.Event) chan struct{} {
		ended := make(chan struct{})
		go func() {
			defer close(ended)
			for e, err := range l.Tail(ctx, 0, audit.Query{}) {
				if err != nil {
					return
				}
				got <- e
			}
		}()
		return ended
	}
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan audit.Event, 10)
	ended := tail(tctx, got)
	for i := range 3 {
		e, err := other.Track(ctx, nil, "tail.elsewhere", nil)
		require.NoError(t, err)
		select {
		case s.notify <- e.Seq:
		case <-time.After(10 * time.Second):
			t.Fatal("nothing listens while a Tail runs")
		}
		select {
		case g := <-got:
			require.Equal(t, e.Seq, g.Seq, "Tail yields event %d of the other process once the store hears of it", i)
		case <-time.After(10 * time.Second):
			t.Fatalf("Tail did not yield event %d: the notification did not wake it", i)
		}
	}
	require.Equal(t, int32(1), s.listening.Load(), "one listener")
	cancel()
	<-ended
	require.Zero(t, s.listening.Load(), "the listener ends with the last tail")

	tctx2, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	tail(tctx2, make(chan audit.Event, 10))
	require.Eventually(t, func() bool { return s.listening.Load() == 1 }, 10*time.Second, time.Millisecond, "a new tail listens again")
	require.NoError(t, l.Close())
	require.Zero(t, s.listening.Load(), "Close ends the listener")
}
