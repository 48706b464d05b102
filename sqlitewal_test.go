package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestCheckpointsRunInTheBackground writes fewer pages than the writer's
// backstop, so that only the background checkpointer can have copied them
// into the database file: the file must grow while the log stays open.
func TestCheckpointsRunInTheBackground(t *testing.T) {
	ctx := context.Background()
	l, path := openWALTest(t)
	before := fileSize(t, path)
	const events = 200 // about 10 pages each: past a wake, short of the backstop
	for i := range events {
		if _, err := l.Track(ctx, Ref{Type: "user", ID: fmt.Sprintf("usr_%d", i)}, "user.login", Ref{Type: "app", ID: "web"}); err != nil {
			t.Fatal(err)
		}
	}
	if wal := fileSize(t, path+"-wal"); wal >= walBackstopPages*4096 || wal < walWakePages*4096 {
		t.Fatalf("the test wrote %d bytes of WAL: short of a wake, or past the backstop, where it cannot tell the checkpointer's work from the writer's", wal)
	}
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(t, path) == before {
		if time.Now().After(deadline) {
			t.Fatalf("after %d commits the database file is still %d bytes: nothing was checkpointed", events, before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Every event is still there, and the chain verifies.
	rep, err := l.Verify(ctx)
	if err != nil || !rep.OK || rep.Checked != events {
		t.Fatalf("Verify = %+v, %v; want OK with %d events", rep, err, events)
	}
}

// TestWALStaysBounded writes from many callers without a pause, which
// leaves the background checkpoints always behind the writer: the WAL must
// still start over, near the backstop, rather than grow with the log.
func TestWALStaysBounded(t *testing.T) {
	ctx := context.Background()
	l, path := openWALTest(t)
	const callers, each = 8, 500
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				// A new actor and resource each time: several pages per event.
				_, err := l.Track(ctx, Ref{Type: "user", ID: fmt.Sprintf("usr_%d_%d", c, i)}, "invoice.created",
					Ref{Type: "invoice", ID: fmt.Sprintf("inv_%d_%d", c, i)}, WithMetadata(map[string]any{"n": i}))
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	written := fileSize(t, path) + fileSize(t, path+"-wal")
	// A frame is a page and its 24-byte header; a commit may take the WAL
	// past the backstop by its own frames before the writer checkpoints.
	limit := int64(walBackstopPages+1024) * (4096 + 24)
	if wal := fileSize(t, path+"-wal"); wal > limit {
		t.Fatalf("WAL is %d bytes after %d events (%d bytes written in all), more than %d", wal, callers*each, written, limit)
	}
	if rep, err := l.Verify(ctx); err != nil || !rep.OK || rep.Checked != callers*each {
		t.Fatalf("Verify = %+v, %v; want OK with %d events", rep, err, callers*each)
	}
}

// openWALTest opens a new log, closed when t ends, and returns it with
// the path of its file.
func openWALTest(t *testing.T) (*Logger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	l, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, path
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
