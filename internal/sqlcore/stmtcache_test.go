package sqlcore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
)

// TestStmtCache: queries through the cache answer what they answer
// without it, on the pool and in transactions, from many goroutines; the
// cache keeps one statement per text up to its bound and runs the rest
// unprepared; a text that does not prepare reports its own error; a
// statement prepared before another connection changed the schema still
// answers; after Close queries run unprepared.
func TestStmtCache(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cache.db")
	db, err := sqlx.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(4)
	_, err = db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`)
	require.NoError(t, err)
	for k := range 100 {
		_, err = db.ExecContext(ctx, `INSERT INTO t VALUES (?, ?)`, k, fmt.Sprint("v", k))
		require.NoError(t, err)
	}
	c := NewStmtCache(db)
	count := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.stmts)
	}

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := (g*50 + i) % 100
				var v string
				if err := c.QueryRowxContext(ctx, `SELECT v FROM t WHERE k = ?`, k).Scan(&v); err != nil || v != fmt.Sprint("v", k) {
					t.Errorf("pool: k %d: %q, %v", k, v, err)
					return
				}
				tx, err := db.BeginTxx(ctx, nil)
				if err != nil {
					t.Error(err)
					return
				}
				var vs []string
				err = c.Tx(tx).SelectContext(ctx, &vs, `SELECT v FROM t WHERE k >= ? ORDER BY k LIMIT 2`, k)
				_ = tx.Rollback()
				if err != nil || len(vs) == 0 || vs[0] != fmt.Sprint("v", k) {
					t.Errorf("tx: k %d: %q, %v", k, vs, err)
					return
				}
			}
		})
	}
	wg.Wait()
	// The text run only in transactions is prepared in the background.
	require.Eventually(t, func() bool { return count() >= 2 }, 10*time.Second, time.Millisecond, "the transactions' text is never prepared")
	require.Equal(t, 2, count(), "one statement per query text")

	// Every connection of the pool in a transaction, each running a text
	// the cache does not hold: none waits for a connection to prepare it
	// on (they run unprepared), and the text is kept for later calls.
	db.SetMaxOpenConns(2)
	defer db.SetMaxOpenConns(4)
	const fresh = `SELECT v FROM t WHERE k = ? AND k >= 0`
	txs := make([]*sqlx.Tx, 2)
	for i := range txs {
		txs[i], err = db.BeginTxx(ctx, nil)
		require.NoError(t, err)
		var v string
		require.NoError(t, txs[i].QueryRowxContext(ctx, `SELECT v FROM t WHERE k = 1`).Scan(&v)) // holds its connection
	}
	for i, tx := range txs {
		wg.Go(func() {
			var v string
			if err := c.Tx(tx).QueryRowxContext(ctx, fresh, i).Scan(&v); err != nil || v != fmt.Sprint("v", i) {
				t.Errorf("tx %d: %q, %v", i, v, err)
			}
		})
	}
	wg.Wait()
	for _, tx := range txs {
		require.NoError(t, tx.Rollback())
	}
	require.Eventually(t, func() bool { return c.lookup(fresh) != nil }, 10*time.Second, time.Millisecond,
		"prepared in the background once a connection was free")

	for i := range MaxCachedStmts + 10 {
		var n int
		require.NoError(t, c.QueryRowxContext(ctx, fmt.Sprintf(`SELECT count(*) + %d FROM t`, i)).Scan(&n))
		require.Equal(t, 100+i, n)
	}
	require.Equal(t, MaxCachedStmts, count(), "the cache stops at its bound; the rest ran unprepared")

	_, err = c.QueryxContext(ctx, `SELECT nope FROM t`)
	require.ErrorContains(t, err, "nope", "a text that does not prepare reports its own error")

	// Another connection changes the schema: SQLite prepares the kept
	// statement again when it runs.
	_, err = db.ExecContext(context.Background(), `ALTER TABLE t ADD COLUMN w TEXT DEFAULT 'x'`)
	require.NoError(t, err)
	var v string
	require.NoError(t, c.QueryRowxContext(ctx, `SELECT v FROM t WHERE k = ?`, 7).Scan(&v))
	require.Equal(t, "v7", v)

	require.NoError(t, c.Close())
	require.Equal(t, 0, count())
	require.NoError(t, c.QueryRowxContext(ctx, `SELECT v FROM t WHERE k = ?`, 8).Scan(&v))
	require.Equal(t, "v8", v, "after Close, unprepared")
	require.Equal(t, 0, count(), "nothing kept after Close")
}
