package sqlcore

import (
	"context"
	"database/sql"
	"sync"

	"github.com/jmoiron/sqlx"
)

// MaxCachedStmts bounds the statements a StmtCache keeps. The queries of
// the read path have a few dozen shapes; a text beyond the bound runs
// unprepared, as it would without the cache.
const MaxCachedStmts = 256

// StmtCache runs queries on a pool through statements it prepares once per
// query text and keeps, instead of preparing the text again for every call.
// On SQLite, compiling a statement costs more than running most of the
// read path's: a suggestion's query took 0.24 ms to prepare and 0.05 ms
// to run. database/sql prepares a kept statement once on each connection
// of the pool, and in a transaction reuses the one of its connection
// (Tx.Stmt).
//
// Every query reaches SQL as the same text with bound arguments, so a
// statement serves every call of its shape. A query the cache cannot
// prepare runs unprepared, and reports its own error.
type StmtCache struct {
	db      *sqlx.DB
	mu      sync.Mutex
	stmts   map[string]*sqlx.Stmt
	pending map[string]bool // being prepared in the background
	closed  bool
	// The background preparations: Close cancels and waits for them, so
	// that none opens a connection of the pool while the store closes
	// (which, on SQLite, would create the database's -shm file again
	// after it was removed).
	bg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// NewStmtCache returns a cache of statements on db.
func NewStmtCache(db *sqlx.DB) *StmtCache {
	ctx, cancel := context.WithCancel(context.Background())
	return &StmtCache{db: db, stmts: make(map[string]*sqlx.Stmt), pending: make(map[string]bool), ctx: ctx, cancel: cancel}
}

// lookup returns the kept statement of query, or nil.
func (c *StmtCache) lookup(query string) *sqlx.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[query]
}

// prepareLater prepares query on the pool in the background, for a caller
// that holds a connection of the pool (a transaction's) and so must not
// wait for another: were every connection in such a transaction, each
// waiting for a free one to prepare on, none would ever come.
func (c *StmtCache) prepareLater(query string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.pending[query] || c.stmts[query] != nil || len(c.stmts)+len(c.pending) >= MaxCachedStmts {
		return
	}
	c.pending[query] = true
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		st, err := c.db.PreparexContext(c.ctx, query)
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.pending, query)
		if err != nil {
			return // run unprepared; the query reports its own error
		}
		if c.closed || c.stmts[query] != nil || len(c.stmts) >= MaxCachedStmts {
			_ = st.Close()
			return
		}
		c.stmts[query] = st
	}()
}

// stmt returns the statement of query, preparing it on a miss (on a
// connection of the pool: the caller must hold none); nil when the cache is
// full or closed, or the query does not prepare.
func (c *StmtCache) stmt(ctx context.Context, query string) *sqlx.Stmt {
	c.mu.Lock()
	st, full := c.stmts[query], len(c.stmts) >= MaxCachedStmts || c.closed
	c.mu.Unlock()
	if st != nil || full {
		return st
	}
	st, err := c.db.PreparexContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept := c.stmts[query]; kept != nil || c.closed || len(c.stmts) >= MaxCachedStmts {
		_ = st.Close() // another call prepared it meanwhile, or no room
		return kept
	}
	c.stmts[query] = st
	return st
}

// QueryContext implements sqlx.QueryerContext.
func (c *StmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

// QueryxContext implements sqlx.QueryerContext.
func (c *StmtCache) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryxContext(ctx, args...)
	}
	return c.db.QueryxContext(ctx, query, args...)
}

// QueryRowxContext implements Querier.
func (c *StmtCache) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowxContext(ctx, args...)
	}
	return c.db.QueryRowxContext(ctx, query, args...)
}

// Tx returns tx, a transaction on the cache's pool, as a ReadTx whose
// queries run through the cache's statements.
func (c *StmtCache) Tx(tx *sqlx.Tx) ReadTx { return cachedTx{tx, c} }

// Close stops the background preparations and waits for them, then
// closes the statements; queries after it run unprepared (and fail once
// the pool is closed).
func (c *StmtCache) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.bg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	for q, st := range c.stmts {
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		delete(c.stmts, q)
	}
	return err
}

// cachedTx is a read transaction whose queries use the cache's statements
// (on the transaction's connection; database/sql prepares it there once).
// A query the cache does not hold yet runs unprepared, and is prepared in
// the background for the next call.
type cachedTx struct {
	tx *sqlx.Tx
	c  *StmtCache
}

// stmt returns the kept statement of query, or nil after asking for it to
// be prepared.
func (t cachedTx) stmt(query string) *sqlx.Stmt {
	st := t.c.lookup(query)
	if st == nil {
		t.c.prepareLater(query)
	}
	return st
}

func (t cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(query); st != nil {
		return t.tx.StmtxContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t cachedTx) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if st := t.stmt(query); st != nil {
		return t.tx.StmtxContext(ctx, st).QueryxContext(ctx, args...)
	}
	return t.tx.QueryxContext(ctx, query, args...)
}

func (t cachedTx) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	if st := t.stmt(query); st != nil {
		return t.tx.StmtxContext(ctx, st).QueryRowxContext(ctx, args...)
	}
	return t.tx.QueryRowxContext(ctx, query, args...)
}

func (t cachedTx) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	return sqlx.SelectContext(ctx, t, dest, query, args...)
}

var (
	_ Querier = (*StmtCache)(nil)
	_ ReadTx  = cachedTx{}
)
