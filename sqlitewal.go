package audit

import (
	"context"
	"errors"
	"sync"

	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
)

// Checkpoints off the commit path.
//
// In WAL mode a commit appends the pages it changed to the WAL, and SQLite
// copies them back into the database file in a checkpoint. By default the
// connection whose commit takes the WAL past 1,000 pages runs that
// checkpoint itself, before its commit returns: with synchronous=NORMAL
// the checkpoint is where the fsyncs are (the WAL's, then the file's), so
// one commit in every hundred or so waited for two fsyncs, and a caller
// of Track with it (BENCHMARKS.md, "Checkpoints off the commit path").
//
// A store that opens its own file runs its checkpoints on a connection of
// its own instead, in the background. After each commit the writer reads
// how many pages it wrote to the WAL (SQLITE_DBSTATUS_CACHE_WRITE); every
// walWakePages of them it wakes the checkpointer, which runs a PASSIVE
// checkpoint: one that copies what the WAL holds without waiting for, or
// blocking, the writer or the readers. Under writes that never pause, a
// background checkpoint always finds new frames behind the ones it
// copied, and the WAL starts over only after a checkpoint that left
// nothing behind. So every walBackstopPages the writer runs one itself,
// right after its commit, while it holds the write lock (after the
// background one in progress, if any: two at once would fail one of them
// busy); it finds nearly every frame copied already, and the next commit
// starts the WAL over (unless a reader still reads from it, as before).
// SQLite's automatic checkpoint stays on the writer, at four times that,
// as a last resort. Durability is the same: a commit is durable once it
// is in the WAL, whoever copies it later. A store in an application's
// database (NewSQLiteStore) leaves checkpoints to the application's
// configuration.
const (
	walWakePages     = 1000 // SQLite's default automatic checkpoint
	walBackstopPages = 4096
)

// walCheckpointer runs the background checkpoints of one store.
type walCheckpointer struct {
	db   *sqlx.DB
	wake chan struct{}
	stop chan struct{}
	done sync.WaitGroup

	mu sync.Mutex // held while either side checkpoints

	// Pages the writer wrote to the WAL since the last wake, and since
	// its last checkpoint; counted under SQLiteStore.mu.
	sinceWake, sinceOwn int64
}

// startCheckpointer starts the background checkpoints on db (one
// connection to the store's file).
func startCheckpointer(db *sqlx.DB) *walCheckpointer {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	c := &walCheckpointer{db: db, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	c.done.Add(1)
	go c.run()
	return c
}

func (c *walCheckpointer) run() {
	defer c.done.Done()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		// An error (SQLITE_BUSY while another process checkpoints, say)
		// loses nothing: the frames stay in the WAL for the next
		// checkpoint.
		_, _ = c.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
		c.mu.Unlock()
	}
}

// committed counts the pages a commit wrote to the WAL, wakes the
// background checkpoint every walWakePages of them, and checkpoints on the
// writer's connection every walBackstopPages; the writer calls it with the
// store's lock held, outside a transaction.
func (c *walCheckpointer) committed(ctx context.Context, writer *sqlx.Conn) {
	var pages int64
	err := writer.Raw(func(dc any) error {
		st, ok := dc.(sqlite.DBStatus)
		if !ok {
			return errors.New("the driver reports no page counts")
		}
		n, _, err := st.Status(sqlite.DBStatusCacheWrite, true)
		pages = int64(n)
		return err
	})
	if err != nil {
		pages = walWakePages // unknown: count the commit as a wake's worth
	}
	c.sinceWake += pages
	c.sinceOwn += pages
	if c.sinceOwn >= walBackstopPages {
		c.mu.Lock()
		// As in the background, an error loses nothing.
		_, _ = writer.ExecContext(context.WithoutCancel(ctx), `PRAGMA wal_checkpoint(PASSIVE)`)
		c.mu.Unlock()
		c.sinceOwn, c.sinceWake = 0, 0
		return
	}
	if c.sinceWake < walWakePages {
		return
	}
	c.sinceWake = 0
	select {
	case c.wake <- struct{}{}:
	default: // a wake is pending already
	}
}

// close stops the background checkpoints and closes their connection.
func (c *walCheckpointer) close() error {
	close(c.stop)
	c.done.Wait()
	return c.db.Close()
}
