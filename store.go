package audit

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is where a Logger keeps events. The Logger validates, normalizes and
// batches; a Store persists and answers queries. Every Store must pass the
// conformance suite in package audittest. Implementations must be safe for
// concurrent use, although a Logger calls Append from one goroutine at a
// time.
type Store interface {
	// Append writes events in one transaction, in order, assigning each its
	// Seq (the next position in the log, gapless), RecordedAt and hashes. It
	// returns one result per event: the event as stored; or, when an event's
	// IdempotencyKey was already used in its tenant (earlier or earlier in
	// the same batch), the first event with that key, and nothing is
	// written for it; or an error that concerns that event alone. An error
	// from Append itself means nothing was written.
	Append(ctx context.Context, events []Event) ([]AppendResult, error)
	// Get returns the event with id among the tenants that scope selects
	// (scope.Tenant, or every tenant when scope.AllTenants; its other
	// fields are zero), or an error wrapping ErrNotFound.
	Get(ctx context.Context, scope Filter, id string) (Event, error)
	// List returns up to limit events matching f, newest (highest Seq)
	// first, with Seq < before when before > 0, skipping the first offset;
	// and the exact number of events matching f (ignoring before, offset
	// and limit), read from the same snapshot. With f.AllTenants, the
	// events of every tenant match.
	List(ctx context.Context, f Filter, before int64, offset, limit int) ([]Event, int64, error)
	// Head returns the Seq and Hash of the newest event, or 0 and nil for an
	// empty log.
	Head(ctx context.Context) (seq int64, hash []byte, err error)
	// ReadChain calls fn with each stored event with from <= Seq <= to, in
	// Seq order, across all tenants, exactly as stored (see ChainEntry), one
	// at a time: its memory must not grow with the range. It stops at the
	// first error fn returns and returns that error.
	ReadChain(ctx context.Context, from, to int64, fn func(ChainEntry) error) error
	// Actions returns the distinct actions among the tenants that scope
	// selects (as for Get) that start with prefix (compared lower-cased),
	// most frequent first, with their counts (summed over the tenants);
	// ties in order of the action.
	Actions(ctx context.Context, scope Filter, prefix string, limit int) ([]ActionCount, error)
	// Close releases the store. Calls after Close return ErrClosed.
	Close() error
}

// TxStore is a Store that can also write inside a caller's transaction.
type TxStore interface {
	Store
	// AppendTx is Append inside tx: nothing is committed until the caller
	// commits tx.
	AppendTx(ctx context.Context, tx *sqlx.Tx, events []Event) ([]AppendResult, error)
}

// AppendResult is the outcome of one event of an Append.
type AppendResult struct {
	// Event is the event as stored, or the earlier event with the same
	// idempotency key.
	Event Event
	// Err concerns this event only.
	Err error
}

// DerivedChecker is a Store that keeps tables derived from the log (totals,
// a typeahead catalogue) and can recount them. Verify calls it once the
// chain is intact.
type DerivedChecker interface {
	// CheckDerived recounts the derived tables from the log, in one
	// snapshot, and returns "" when they agree, or what disagrees first.
	CheckDerived(ctx context.Context) (problem string, err error)
}

// Backuper is a Store that can copy itself while writers run.
type Backuper interface {
	// Backup writes a consistent copy of the store to a new file at path,
	// which can be opened and verified on its own.
	Backup(ctx context.Context, path string) error
}

// Durability says what a commit survives.
type Durability int

const (
	// DurabilityNormal (the default): a committed event survives a crash of
	// the process, not necessarily a power loss (WAL, synchronous=NORMAL).
	DurabilityNormal Durability = iota
	// DurabilityFull: a committed event also survives a power loss or an
	// operating-system crash (WAL, synchronous=FULL), at the cost of an
	// fsync per commit.
	DurabilityFull
)

// SQLiteOptions configure the SQLite store. The zero value is the default.
type SQLiteOptions struct {
	// Durability of commits (default DurabilityNormal).
	Durability Durability
	// BusyTimeout is how long a connection waits for a lock held by another
	// connection or process (default 10s).
	BusyTimeout time.Duration
	// Readers is the size of the read-only connection pool (default 4, at
	// least the number of CPUs).
	Readers int
	// MaxBytes caps the size of the database file (0: no cap beyond the
	// disk's). A write that would grow it past the cap fails with
	// ErrDiskFull and stores nothing, exactly as a full disk does.
	MaxBytes int64
}

//go:embed schema.sql
var schemaSQL string

// SQLiteStore is the Store on a SQLite database: one writer connection that
// runs IMMEDIATE transactions and a pool of readers.
type SQLiteStore struct {
	writer  *sqlx.DB // nil when the store lives in a caller's database
	wconn   *sqlx.Conn
	readers *sqlx.DB
	own     bool // close the databases on Close

	mu       sync.Mutex // serializes writes on wconn
	closed   bool
	stmts    *writeStmts
	begin    *sqlx.Stmt // BEGIN IMMEDIATE, COMMIT and ROLLBACK on wconn
	commit   *sqlx.Stmt
	rollback *sqlx.Stmt
	migrated []int

	backupURI string // for Backup, when the readers are read-only
}

var (
	_ Store          = (*SQLiteStore)(nil)
	_ TxStore        = (*SQLiteStore)(nil)
	_ DerivedChecker = (*SQLiteStore)(nil)
	_ Backuper       = (*SQLiteStore)(nil)
)

// OpenSQLite opens (creating and migrating as needed) the SQLite store in
// the file at path.
func OpenSQLite(ctx context.Context, path string, o SQLiteOptions) (*SQLiteStore, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("audit: open %q: want the path of a database file", path)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 10 * time.Second
	}
	if o.Readers <= 0 {
		o.Readers = max(4, runtime.NumCPU())
	}
	// Some steps of opening a file that other processes are opening or
	// writing (switching it to WAL, WAL recovery) answer SQLITE_BUSY without
	// waiting on the busy timeout; try again until the timeout has passed.
	deadline := time.Now().Add(o.BusyTimeout)
	for pause := time.Millisecond; ; pause = min(2*pause, 100*time.Millisecond) {
		s, err := openSQLite(ctx, path, o)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return s, err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, opErr(fmt.Sprintf("open %s", path), ctx.Err())
		}
	}
}

func openSQLite(ctx context.Context, path string, o SQLiteOptions) (*SQLiteStore, error) {
	syncMode := "NORMAL"
	if o.Durability == DurabilityFull {
		syncMode = "FULL"
	}
	uri := "file:" + escapePath(path)
	common := "_pragma=busy_timeout(" + strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10) + ")"
	writer, err := sqlx.Open("sqlite", uri+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous("+syncMode+")&_pragma=foreign_keys(1)"+
		// Statement journals (upserts, triggers) and large batches stay in
		// memory rather than spilling to temporary files.
		"&_pragma=temp_store(MEMORY)&_pragma=cache_size(-65536)")
	if err != nil {
		return nil, opErr(fmt.Sprintf("open %s", path), err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	s, err := newSQLiteStore(ctx, writer, nil)
	if err != nil {
		_ = writer.Close()
		return nil, opErr(fmt.Sprintf("open %s", path), err)
	}
	s.writer, s.own = writer, true // Close closes it from now on
	s.backupURI = uri + "?" + common
	readers, err := sqlx.Open("sqlite", uri+"?mode=ro&"+common+"&_pragma=query_only(1)&_pragma=cache_size(-16384)")
	if err != nil {
		_ = s.Close()
		return nil, opErr(fmt.Sprintf("open %s", path), err)
	}
	s.readers = readers
	readers.SetMaxOpenConns(o.Readers)
	readers.SetMaxIdleConns(o.Readers)
	if err := readers.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, opErr(fmt.Sprintf("open %s: readers", path), classify(err))
	}
	if o.MaxBytes > 0 {
		if err := s.SetMaxBytes(ctx, o.MaxBytes); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

// NewSQLiteStore puts the audit tables in the application's own SQLite
// database db, migrating them as needed, and returns a store on it. The
// store takes one connection from db's pool for its writer and reads through
// db, so db must allow at least two open connections (SetMaxOpenConns 0 or
// 2 and more); Close gives the connection back and leaves db open. Configure db with
// WAL and a busy timeout, e.g. "file:app.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)".
func NewSQLiteStore(ctx context.Context, db *sqlx.DB) (*SQLiteStore, error) {
	if db == nil {
		return nil, fmt.Errorf("audit: NewSQLiteStore: nil db")
	}
	if n := db.Stats().MaxOpenConnections; n == 1 {
		return nil, fmt.Errorf("audit: NewSQLiteStore: db allows one open connection; the store keeps one for its writer and needs another to read")
	}
	s, err := newSQLiteStore(ctx, db, db)
	if err != nil {
		return nil, opErr("new SQLite store", err)
	}
	return s, nil
}

func newSQLiteStore(ctx context.Context, wdb, readers *sqlx.DB) (*SQLiteStore, error) {
	conn, err := wdb.Connx(ctx)
	if err != nil {
		return nil, classify(err)
	}
	s := &SQLiteStore{wconn: conn, readers: readers}
	if s.migrated, err = migrate(ctx, conn); err != nil {
		_ = conn.Close()
		return nil, err
	}
	if s.stmts, err = prepareWrite(ctx, conn); err != nil {
		_ = conn.Close()
		return nil, err
	}
	for _, x := range []struct {
		dst **sqlx.Stmt
		sql string
	}{{&s.begin, "BEGIN IMMEDIATE"}, {&s.commit, "COMMIT"}, {&s.rollback, "ROLLBACK"}} {
		if *x.dst, err = conn.PreparexContext(ctx, x.sql); err != nil {
			_ = s.stmts.close()
			_ = conn.Close()
			return nil, fmt.Errorf("prepare: %w", classify(err))
		}
	}
	return s, nil
}

// SetMaxBytes caps the size of the database file from now on (see
// SQLiteOptions.MaxBytes); 0 removes the cap. It cannot shrink the cap below
// the current size.
func (s *SQLiteStore) SetMaxBytes(ctx context.Context, n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return opErr("set max bytes", ErrClosed)
	}
	pages := int64(1<<31 - 2) // SQLite's largest
	if n > 0 {
		var size int64
		if err := s.wconn.GetContext(ctx, &size, `PRAGMA page_size`); err != nil {
			return opErr("set max bytes", classify(err))
		}
		pages = max(1, n/size)
	}
	if _, err := s.wconn.ExecContext(ctx, `PRAGMA max_page_count = `+strconv.FormatInt(pages, 10)); err != nil {
		return opErr("set max bytes", classify(err))
	}
	return nil
}

// Migrated returns the schema versions this store applied when it opened.
func (s *SQLiteStore) Migrated() []int { return s.migrated }

// DB returns the pool the store reads through, for inspection.
func (s *SQLiteStore) DB() *sqlx.DB { return s.readers }

// Close closes the writer connection, and the databases the store opened.
func (s *SQLiteStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := errors.Join(s.stmts.close(), s.begin.Close(), s.commit.Close(), s.rollback.Close(), s.wconn.Close())
	if s.own {
		if s.readers != nil {
			err = errors.Join(err, s.readers.Close())
		}
		err = errors.Join(err, s.writer.Close())
	}
	return err
}

func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

var migrationHeader = regexp.MustCompile(`(?m)^-- migration (\d+): .*$`)

type migration struct {
	version int
	sql     string
}

// migrations splits schema.sql into its numbered migrations.
func migrations() []migration {
	idx := migrationHeader.FindAllStringSubmatchIndex(schemaSQL, -1)
	out := make([]migration, 0, len(idx))
	for i, m := range idx {
		v, _ := strconv.Atoi(schemaSQL[m[2]:m[3]])
		end := len(schemaSQL)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		out = append(out, migration{version: v, sql: schemaSQL[m[0]:end]})
	}
	return out
}

// migrate applies the migrations the database lacks, in one IMMEDIATE
// transaction so that processes opening the file together apply each once.
func migrate(ctx context.Context, conn *sqlx.Conn) (applied []int, err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, fmt.Errorf("migrate: %w", classify(err))
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return
		}
		if _, cerr := conn.ExecContext(ctx, "COMMIT"); cerr != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			err, applied = fmt.Errorf("migrate: commit: %w", classify(cerr)), nil
		}
	}()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS audit_schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("migrate: %w", classify(err))
	}
	var current int
	if err := conn.QueryRowxContext(ctx, "SELECT coalesce(max(version), 0) FROM audit_schema_migrations").Scan(&current); err != nil {
		return nil, fmt.Errorf("migrate: %w", classify(err))
	}
	for _, m := range migrations() {
		if m.version <= current {
			continue
		}
		if _, err := conn.ExecContext(ctx, m.sql); err != nil {
			return nil, fmt.Errorf("migrate to version %d: %w", m.version, classify(err))
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO audit_schema_migrations (version, applied_at) VALUES (?, ?)",
			m.version, time.Now().UnixNano()); err != nil {
			return nil, fmt.Errorf("migrate to version %d: %w", m.version, classify(err))
		}
		applied = append(applied, m.version)
	}
	return applied, nil
}

// SQL run by the writer.
const (
	sqlHead = `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`

	sqlByKey = `SELECT ` + eventColumns + ` FROM audit_events WHERE tenant = ? AND idempotency_key = ?`

	sqlInsert = `INSERT INTO audit_events (seq, id, tenant, action, actor_type, actor_id, actor_name,
		resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key,
		occurred_at, recorded_at, prev_hash, hash, hash_version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

	// sqlBumpCounts takes more rows of values, then sqlBumpCountsTail.
	sqlBumpCounts     = `INSERT INTO audit_counts (tenant, kind, key, n) VALUES (?, ?, ?, ?)`
	sqlBumpCountsTail = ` ON CONFLICT (tenant, kind, key) DO UPDATE SET n = n + excluded.n`

	sqlAddTerm = `INSERT OR IGNORE INTO audit_action_terms (tenant, term, action, seg) VALUES (?, ?, ?, ?)`
)

// writeStmts are the statements of the write path, prepared on the writer
// connection (or on a caller's transaction).
type writeStmts struct {
	head, byKey, addTerm *sqlx.Stmt

	p       preparer
	insertN map[int]*sqlx.Stmt // INSERT of n events
	countN  map[int]*sqlx.Stmt // upsert of n counters
	actionN map[int]*sqlx.Stmt // upsert of n action counters, returning them
}

// maxCountRows is the most counters one upsert statement carries.
const maxCountRows = 64

type preparer interface {
	PreparexContext(ctx context.Context, query string) (*sqlx.Stmt, error)
}

func prepareWrite(ctx context.Context, p preparer) (*writeStmts, error) {
	w := &writeStmts{p: p, insertN: make(map[int]*sqlx.Stmt), countN: make(map[int]*sqlx.Stmt), actionN: make(map[int]*sqlx.Stmt)}
	for _, x := range []struct {
		dst **sqlx.Stmt
		sql string
	}{
		{&w.head, sqlHead}, {&w.byKey, sqlByKey}, {&w.addTerm, sqlAddTerm},
	} {
		st, err := p.PreparexContext(ctx, x.sql)
		if err != nil {
			_ = w.close()
			return nil, fmt.Errorf("prepare: %w", classify(err))
		}
		*x.dst = st
	}
	return w, nil
}

func (w *writeStmts) close() error {
	var errs []error
	for _, st := range []*sqlx.Stmt{w.head, w.byKey, w.addTerm} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, m := range []map[int]*sqlx.Stmt{w.insertN, w.countN, w.actionN} {
		for _, st := range m {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// Append implements Store: one IMMEDIATE transaction on the writer
// connection.
func (s *SQLiteStore) Append(ctx context.Context, events []Event) (res []AppendResult, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, opErr("append", ErrClosed)
	}
	if _, err := s.begin.ExecContext(ctx); err != nil {
		return nil, opErr("append: begin", classify(err))
	}
	res, err = s.stmts.append(ctx, events)
	if err == nil {
		if _, cerr := s.commit.ExecContext(ctx); cerr != nil {
			err = fmt.Errorf("commit: %w", classify(cerr))
		}
	}
	if err != nil {
		_, _ = s.rollback.ExecContext(context.WithoutCancel(ctx))
		return nil, opErr("append", err)
	}
	return res, nil
}

// AppendTx implements TxStore.
func (s *SQLiteStore) AppendTx(ctx context.Context, tx *sqlx.Tx, events []Event) ([]AppendResult, error) {
	// Take the write lock before reading the head, so that a deferred
	// transaction does not read a head that another writer then moves.
	if _, err := tx.ExecContext(ctx, `UPDATE audit_counts SET n = n WHERE 0`); err != nil {
		return nil, opErr("append in transaction", classify(err))
	}
	w, err := prepareWrite(ctx, tx)
	if err != nil {
		return nil, opErr("append in transaction", err)
	}
	defer w.close()
	res, err := w.append(ctx, events)
	if err != nil {
		return nil, opErr("append in transaction", err)
	}
	return res, nil
}

type countKey struct{ tenant, kind, key string }

// append writes events inside the current transaction.
func (w *writeStmts) append(ctx context.Context, events []Event) ([]AppendResult, error) {
	// The head is read inside the write transaction, never trusted from
	// memory: another process may have appended since.
	var head int64
	var prev []byte
	if err := w.head.QueryRowxContext(ctx).Scan(&head, &prev); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read head: %w", classify(err))
	}
	if head == 0 {
		prev = genesisHash
	}
	now := time.Now().UTC()
	res := make([]AppendResult, len(events))

	// Idempotency: a key used before (in the log or earlier in this batch)
	// returns the first event.
	firstOf := make(map[[2]string]int) // tenant, key -> index of the first in this batch
	dupOf := make(map[int]int)         // index -> index of the first in this batch
	todo := make([]int, 0, len(events))
	for i, e := range events {
		if e.IdempotencyKey != "" {
			k := [2]string{e.Tenant, e.IdempotencyKey}
			if j, ok := firstOf[k]; ok {
				dupOf[i] = j
				continue
			}
			first, err := scanEvent(w.byKey.QueryRowxContext(ctx, e.Tenant, e.IdempotencyKey))
			switch {
			case err == nil:
				res[i] = AppendResult{Event: first}
				continue
			case !errors.Is(err, sql.ErrNoRows):
				return nil, fmt.Errorf("look up idempotency key: %w", classify(err))
			}
			firstOf[k] = i
		}
		todo = append(todo, i)
	}

	// Chain and insert, several rows per statement. If a statement breaks
	// a constraint, the rest is inserted one by one so that only the
	// offending events fail, and the chain skips them.
	var buf []byte
	inserted := make([]bool, len(events))
	chain := func(i int) (row, error) {
		e := events[i]
		e.Seq, e.RecordedAt, e.PrevHash = head+1, now, prev
		targets, meta, err := canonicalJSON(e)
		if err != nil {
			return row{}, err
		}
		sum := chainSum(&buf, chainVersion, prev, e, targets, meta)
		e.Hash = sum[:]
		head, prev = e.Seq, e.Hash
		res[i], inserted[i] = AppendResult{Event: e}, true
		return toRow(e, targets, meta), nil
	}
	single := false
	rows := make([]row, 0, maxInsertRows)
	for len(todo) > 0 {
		if !single {
			n := min(len(todo), maxInsertRows)
			savedHead, savedPrev := head, prev
			rows = rows[:0]
			var err error
			for _, i := range todo[:n] {
				var r row
				if r, err = chain(i); err != nil {
					break
				}
				rows = append(rows, r)
			}
			if err == nil {
				err = w.insertRows(ctx, rows)
				if err == nil {
					todo = todo[n:]
					continue
				}
				if err = classify(err); !isConstraint(err) {
					return nil, fmt.Errorf("insert: %w", err)
				}
			}
			head, prev, single = savedHead, savedPrev, true
		}
		i := todo[0]
		todo = todo[1:]
		savedHead, savedPrev := head, prev
		r, err := chain(i)
		if err == nil {
			if err = w.insertRows(ctx, []row{r}); err != nil {
				if err = classify(err); !isConstraint(err) {
					return nil, fmt.Errorf("insert: %w", err)
				}
				err = opErr("insert", err)
			}
		}
		if err != nil {
			res[i], inserted[i] = AppendResult{Err: err}, false
			head, prev = savedHead, savedPrev
		}
	}
	for i, j := range dupOf {
		res[i] = res[j]
	}

	// Counters and the action catalogue, in the same transaction.
	counts := make(map[countKey]int64)
	for i, r := range res {
		if !inserted[i] {
			continue // a duplicate, a failure
		}
		e := r.Event
		counts[countKey{e.Tenant, "total", ""}]++
		counts[countKey{e.Tenant, "actor", e.Actor.ID}]++
		counts[countKey{e.Tenant, "resource", e.Resource.ID}]++
		counts[countKey{e.Tenant, "action", e.Action}]++
	}
	if err := w.bumpCounts(ctx, counts); err != nil {
		return nil, err
	}
	return res, nil
}

// maxInsertRows is the most events one INSERT statement carries.
const maxInsertRows = 32

// insertRows inserts rows with one statement.
func (w *writeStmts) insertRows(ctx context.Context, rows []row) error {
	st, err := w.multi(ctx, w.insertN, len(rows), sqlInsert, `, (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, "")
	if err != nil {
		return err
	}
	args := make([]any, 0, 19*len(rows))
	for i := range rows {
		args = append(args, rows[i].args()...)
		args = append(args, chainVersion)
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

// bumpCounts adds counts to audit_counts, and adds the terms of actions
// that the catalogue did not have yet. Keys go in sorted order, which keeps
// the b-tree walk short; only the action rows are returned, to tell new
// actions.
func (w *writeStmts) bumpCounts(ctx context.Context, counts map[countKey]int64) error {
	var keys, actions []countKey
	for k := range counts {
		if k.kind == "action" {
			actions = append(actions, k)
		} else {
			keys = append(keys, k)
		}
	}
	less := func(a, b countKey) int {
		return cmp.Or(strings.Compare(a.tenant, b.tenant), strings.Compare(a.kind, b.kind), strings.Compare(a.key, b.key))
	}
	slices.SortFunc(keys, less)
	slices.SortFunc(actions, less)
	var fresh []countKey
	for _, set := range []struct {
		keys      []countKey
		cache     map[int]*sqlx.Stmt
		returning string
	}{{keys, w.countN, ""}, {actions, w.actionN, ` RETURNING tenant, kind, key, n`}} {
		for keys := set.keys; len(keys) > 0; {
			n := min(len(keys), maxCountRows)
			st, err := w.multi(ctx, set.cache, n, sqlBumpCounts, `, (?, ?, ?, ?)`, sqlBumpCountsTail+set.returning)
			if err != nil {
				return fmt.Errorf("update counts: %w", classify(err))
			}
			args := make([]any, 0, 4*n)
			for _, k := range keys[:n] {
				args = append(args, k.tenant, k.kind, k.key, counts[k])
			}
			keys = keys[n:]
			if set.returning == "" {
				if _, err := st.ExecContext(ctx, args...); err != nil {
					return fmt.Errorf("update counts: %w", classify(err))
				}
				continue
			}
			rows, err := st.QueryxContext(ctx, args...)
			if err != nil {
				return fmt.Errorf("update counts: %w", classify(err))
			}
			for rows.Next() {
				var k countKey
				var total int64
				if err := rows.Scan(&k.tenant, &k.kind, &k.key, &total); err != nil {
					rows.Close()
					return fmt.Errorf("update counts: %w", classify(err))
				}
				if total == counts[k] {
					fresh = append(fresh, k) // the first events of this action
				}
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return fmt.Errorf("update counts: %w", classify(err))
			}
		}
	}
	for _, k := range fresh {
		for seg, term := range actionTerms(k.key) {
			if _, err := w.addTerm.ExecContext(ctx, k.tenant, term, k.key, seg); err != nil {
				return fmt.Errorf("update action terms: %w", classify(err))
			}
		}
	}
	return nil
}

// multi returns the statement of head followed by n-1 repetitions of more,
// then tail, prepared once per n.
func (w *writeStmts) multi(ctx context.Context, cache map[int]*sqlx.Stmt, n int, head, more, tail string) (*sqlx.Stmt, error) {
	if st, ok := cache[n]; ok {
		return st, nil
	}
	st, err := w.p.PreparexContext(ctx, head+strings.Repeat(more, n-1)+tail)
	if err != nil {
		return nil, err
	}
	cache[n] = st
	return st, nil
}

// classify adds sentinels to driver errors.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		if se.Code()&0xff == sqlite3.SQLITE_FULL {
			return fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
	}
	return err
}

func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// Head implements Store.
func (s *SQLiteStore) Head(ctx context.Context) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := s.readers.QueryRowxContext(ctx, sqlHead).Scan(&seq, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil, nil
	case err != nil:
		return 0, nil, opErr("head", s.readErr(err))
	}
	return seq, hash, nil
}

const sqlReadChain = `SELECT ` + chainColumns + ` FROM audit_events WHERE seq BETWEEN ? AND ? ORDER BY seq`

// ReadChain implements Store. It reads through the driver directly, so that
// each value keeps its storage class (TEXT as string, BLOB as []byte) and
// without database/sql's per-column conversions, which would be most of
// Verify's cost.
func (s *SQLiteStore) ReadChain(ctx context.Context, from, to int64, fn func(ChainEntry) error) error {
	conn, err := s.readers.Conn(ctx)
	if err != nil {
		return opErr("read chain", s.readErr(err))
	}
	defer conn.Close()
	var fnErr error
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver %T cannot query", dc)
		}
		rows, err := q.QueryContext(ctx, sqlReadChain, []driver.NamedValue{{Ordinal: 1, Value: from}, {Ordinal: 2, Value: to}})
		if err != nil {
			return err
		}
		defer rows.Close()
		v := make([]driver.Value, len(rows.Columns()))
		values := make([]any, len(v))
		for {
			if err := rows.Next(v); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			for i, x := range v {
				values[i] = x
			}
			if fnErr = fn(ChainEntry{Values: values}); fnErr != nil {
				return fnErr
			}
		}
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return opErr("read chain", s.readErr(err))
	}
	return nil
}

// The recounts of CheckDerived, each in the order of its counter rows:
// every counter kind from the index that serves it, grouped in index order
// (no sort).
var derivedCounts = [...]struct{ kind, events string }{
	{"total", `SELECT tenant, '', count(*) FROM audit_events INDEXED BY audit_events_tenant GROUP BY tenant ORDER BY tenant`},
	{"actor", `SELECT tenant, actor_id, count(*) FROM audit_events INDEXED BY audit_events_actor GROUP BY tenant, actor_id ORDER BY tenant, actor_id`},
	{"resource", `SELECT tenant, resource_id, count(*) FROM audit_events INDEXED BY audit_events_resource GROUP BY tenant, resource_id ORDER BY tenant, resource_id`},
	{"action", `SELECT tenant, action, count(*) FROM audit_events INDEXED BY audit_events_action GROUP BY tenant, action ORDER BY tenant, action`},
}

const (
	sqlCountersOfKind = `SELECT tenant, key, n FROM audit_counts WHERE kind = ? ORDER BY tenant, key`
	sqlCounterKinds   = `SELECT DISTINCT kind FROM audit_counts`
	sqlAllTerms       = `SELECT tenant, action, term, seg FROM audit_action_terms ORDER BY tenant, action, seg`
)

// CheckDerived implements DerivedChecker: it recounts audit_counts from the
// events and rebuilds the typeahead terms of every action, in one read
// transaction, streaming both sides in the same order (memory does not grow
// with the log).
func (s *SQLiteStore) CheckDerived(ctx context.Context) (string, error) {
	tx, err := s.readers.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return "", opErr("check derived tables", s.readErr(err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	problem, err := checkDerived(ctx, tx)
	if err != nil {
		return "", opErr("check derived tables", s.readErr(err))
	}
	return problem, nil
}

// counterRow is a (tenant, key, n) row of either side of a recount.
type counterRow struct {
	tenant, key string
	n           int64
}

// rowStream reads counterRows one at a time.
type rowStream struct {
	rows *sqlx.Rows
	cur  counterRow
	ok   bool
}

func (r *rowStream) next() error {
	r.ok = r.rows.Next()
	if !r.ok {
		return r.rows.Err()
	}
	return r.rows.Scan(&r.cur.tenant, &r.cur.key, &r.cur.n)
}

func checkDerived(ctx context.Context, tx *sqlx.Tx) (string, error) {
	var kinds []string
	if err := tx.SelectContext(ctx, &kinds, sqlCounterKinds); err != nil {
		return "", err
	}
	for _, k := range kinds {
		if !slices.ContainsFunc(derivedCounts[:], func(d struct{ kind, events string }) bool { return d.kind == k }) {
			return fmt.Sprintf("audit_counts has rows of unknown kind %q", k), nil
		}
	}
	for _, d := range derivedCounts {
		problem, err := mergeCounts(ctx, tx, d.kind, d.events)
		if problem != "" || err != nil {
			return problem, err
		}
	}
	return checkTerms(ctx, tx)
}

// mergeCounts walks the recount and the counters of kind side by side and
// reports the first key on which they differ.
func mergeCounts(ctx context.Context, tx *sqlx.Tx, kind, recount string) (string, error) {
	evRows, err := tx.QueryxContext(ctx, recount)
	if err != nil {
		return "", err
	}
	defer evRows.Close()
	cRows, err := tx.QueryxContext(ctx, sqlCountersOfKind, kind)
	if err != nil {
		return "", err
	}
	defer cRows.Close()
	ev, cn := &rowStream{rows: evRows}, &rowStream{rows: cRows}
	if err := errors.Join(ev.next(), cn.next()); err != nil {
		return "", err
	}
	for ev.ok || cn.ok {
		c := 0
		switch {
		case !cn.ok:
			c = -1
		case !ev.ok:
			c = 1
		default:
			c = cmp.Or(strings.Compare(ev.cur.tenant, cn.cur.tenant), strings.Compare(ev.cur.key, cn.cur.key))
		}
		switch {
		case c < 0:
			return fmt.Sprintf("audit_counts has no %s counter for %q in tenant %q, which has %d events", kind, ev.cur.key, ev.cur.tenant, ev.cur.n), nil
		case c > 0:
			return fmt.Sprintf("audit_counts counts %d events of %s %q in tenant %q, which has none", cn.cur.n, kind, cn.cur.key, cn.cur.tenant), nil
		case ev.cur.n != cn.cur.n:
			return fmt.Sprintf("audit_counts counts %d events of %s %q in tenant %q, the log has %d", cn.cur.n, kind, cn.cur.key, cn.cur.tenant, ev.cur.n), nil
		}
		if err := errors.Join(ev.next(), cn.next()); err != nil {
			return "", err
		}
	}
	return "", nil
}

// checkTerms checks that audit_action_terms holds exactly the terms of every
// action the counters know (which mergeCounts checked against the log).
func checkTerms(ctx context.Context, tx *sqlx.Tx) (string, error) {
	aRows, err := tx.QueryxContext(ctx, sqlCountersOfKind, "action")
	if err != nil {
		return "", err
	}
	defer aRows.Close()
	tRows, err := tx.QueryxContext(ctx, sqlAllTerms)
	if err != nil {
		return "", err
	}
	defer tRows.Close()
	actions := &rowStream{rows: aRows}
	if err := actions.next(); err != nil {
		return "", err
	}
	type term struct {
		tenant, action, term string
		seg                  int
	}
	var t term
	haveTerm := tRows.Next()
	if haveTerm {
		if err := tRows.Scan(&t.tenant, &t.action, &t.term, &t.seg); err != nil {
			return "", err
		}
	}
	stray := func(t term) string {
		return fmt.Sprintf("audit_action_terms has term %q of action %q in tenant %q, which has no events", t.term, t.action, t.tenant)
	}
	for actions.ok {
		a := actions.cur
		if haveTerm && cmp.Or(strings.Compare(t.tenant, a.tenant), strings.Compare(t.action, a.key)) < 0 {
			return stray(t), nil
		}
		for seg, want := range actionTerms(a.key) {
			if !haveTerm || t.tenant != a.tenant || t.action != a.key || t.seg != seg || t.term != want {
				return fmt.Sprintf("audit_action_terms lacks term %q (segment %d) of action %q in tenant %q", want, seg, a.key, a.tenant), nil
			}
			if haveTerm = tRows.Next(); haveTerm {
				if err := tRows.Scan(&t.tenant, &t.action, &t.term, &t.seg); err != nil {
					return "", err
				}
			}
		}
		if haveTerm && t.tenant == a.tenant && t.action == a.key {
			return fmt.Sprintf("audit_action_terms has term %q that action %q in tenant %q does not have", t.term, a.key, a.tenant), nil
		}
		if err := actions.next(); err != nil {
			return "", err
		}
	}
	if err := tRows.Err(); err != nil {
		return "", err
	}
	if haveTerm {
		return stray(t), nil
	}
	return "", nil
}

// Backup implements Backuper with VACUUM INTO on a reader connection: a
// consistent snapshot of the whole database file (in WAL mode readers do
// not block writers, so writes go on meanwhile), written to a temporary
// file beside path, flushed to disk, then linked into place so that path
// never holds a partial copy. It refuses a path that exists. A store inside
// an application's database (NewSQLiteStore) copies that whole database.
func (s *SQLiteStore) Backup(ctx context.Context, path string) (err error) {
	if path == "" {
		return fmt.Errorf("audit: backup: empty path")
	}
	if _, err := os.Lstat(path); err == nil {
		return opErr(fmt.Sprintf("backup to %s", path), os.ErrExist)
	}
	dir := filepath.Dir(path)
	tmpFile, err := os.CreateTemp(dir, filepath.Base(path)+".partial-*")
	if err != nil {
		return opErr("backup", err)
	}
	tmp := tmpFile.Name()
	_ = tmpFile.Close()
	// VACUUM INTO wants a new or empty file.
	if err := os.Remove(tmp); err != nil {
		return opErr("backup", err)
	}
	defer os.Remove(tmp) //nolint:errcheck // gone once linked
	db := s.readers
	if s.backupURI != "" {
		// The store's readers are read-only connections, which SQLite
		// does not let run VACUUM INTO: one plain connection for the copy.
		if db, err = sqlx.Open("sqlite", s.backupURI); err != nil {
			return opErr("backup", err)
		}
		defer db.Close()
	}
	_, err = db.ExecContext(ctx, `VACUUM main INTO ?`, tmp)
	if err != nil {
		return opErr("backup", s.readErr(err))
	}
	if err := syncFile(tmp); err != nil {
		return opErr("backup", err)
	}
	if err := os.Link(tmp, path); err != nil {
		return opErr("backup", err)
	}
	if err := syncFile(dir); err != nil {
		return opErr("backup", err)
	}
	return nil
}

// syncFile flushes a file or directory to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
