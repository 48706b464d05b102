package audit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/trailkit/audit/internal/sqlcore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

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

//go:embed schema.sql
var schemaSQL string

// SQLiteStore is the Store on a SQLite database: one writer connection that
// runs IMMEDIATE transactions and a pool of readers.
type SQLiteStore struct {
	writer  *sqlx.DB // nil when the store lives in a caller's database
	wconn   *sqlx.Conn
	readers *sqlx.DB
	// cache runs the read path's queries on readers through statements
	// prepared once per query text.
	cache *sqlcore.StmtCache
	own   bool // close the databases on Close

	core     *sqlcore.Store[Event]
	mu       sync.Mutex // serializes writes on wconn
	closed   bool
	stmts    *sqlcore.Stmts
	begin    *sqlx.Stmt // BEGIN IMMEDIATE, COMMIT and ROLLBACK on wconn
	commit   *sqlx.Stmt
	rollback *sqlx.Stmt
	migrated []int
	readOnly bool // WithReadOnly: no writer; Append fails with ErrReadOnly

	backupURI string // for Backup, when the readers are read-only

	// ckpt runs the WAL checkpoints in the background, for a store that
	// opened its own file; nil otherwise (sqlitewal.go).
	ckpt *walCheckpointer
}

var (
	_ Store          = (*SQLiteStore)(nil)
	_ TxStore        = (*SQLiteStore)(nil)
	_ DerivedChecker = (*SQLiteStore)(nil)
	_ Backuper       = (*SQLiteStore)(nil)
)

// OpenSQLite opens (creating and migrating as needed) the SQLite store in
// the file at path, for New. It takes the options of the SQLite store
// (WithDurability, WithBusyTimeout, WithReaders, WithMaxBytes, and
// WithReadOnly, which opens an existing file for reading only) and refuses
// any other with ErrInvalidOption: those configure a Logger.
//
// Besides its writer and readers, the store keeps one connection for WAL
// checkpoints, which it runs in the background so that a commit does not
// wait for one; the WAL file grows to about 16 MiB under steady writes
// before it starts over.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*SQLiteStore, error) {
	o, err := buildOptions(scopeSQLite, opts)
	if err != nil {
		return nil, err
	}
	return openSQLiteRetrying(ctx, path, o.sqlite)
}

func openSQLiteRetrying(ctx context.Context, path string, o sqliteOptions) (*SQLiteStore, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, opErr(fmt.Sprintf("open %q", path), errors.New("want the path of a database file"))
	}
	if o.readers <= 0 {
		o.readers = max(4, runtime.NumCPU())
	}
	// Some steps of opening a file that other processes are opening or
	// writing (switching it to WAL, WAL recovery) answer SQLITE_BUSY without
	// waiting on the busy timeout; try again until the timeout has passed.
	deadline := time.Now().Add(o.busyTimeout)
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

func openSQLite(ctx context.Context, path string, o sqliteOptions) (*SQLiteStore, error) {
	if o.readOnly {
		return openSQLiteReadOnly(ctx, path, o)
	}
	syncMode := "NORMAL"
	if o.durability == DurabilityFull {
		syncMode = "FULL"
	}
	uri := "file:" + escapePath(path)
	common := "_pragma=busy_timeout(" + strconv.FormatInt(o.busyTimeout.Milliseconds(), 10) + ")"
	writer, err := sqlx.Open("sqlite", uri+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous("+syncMode+")&_pragma=foreign_keys(1)"+
		// Statement journals (upserts, triggers) and large batches stay in
		// memory rather than spilling to temporary files.
		"&_pragma=temp_store(MEMORY)&_pragma=cache_size(-65536)"+
		// Checkpoints run in the background (sqlitewal.go); SQLite's own
		// stays as a last resort.
		"&_pragma=wal_autocheckpoint("+strconv.Itoa(4*walBackstopPages)+")")
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
	ckpt, err := sqlx.Open("sqlite", uri+"?"+common+"&_pragma=synchronous("+syncMode+")")
	if err != nil {
		_ = s.Close()
		return nil, opErr(fmt.Sprintf("open %s", path), err)
	}
	s.ckpt = startCheckpointer(ckpt)
	readers, err := sqlx.Open("sqlite", uri+"?mode=ro&"+common+"&_pragma=query_only(1)&_pragma=cache_size(-16384)")
	if err != nil {
		_ = s.Close()
		return nil, opErr(fmt.Sprintf("open %s", path), err)
	}
	s.readers, s.cache = readers, sqlcore.NewStmtCache(readers)
	readers.SetMaxOpenConns(o.readers)
	readers.SetMaxIdleConns(o.readers)
	if err := readers.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, opErr(fmt.Sprintf("open %s: readers", path), classify(err))
	}
	if o.maxBytes > 0 {
		if err := s.SetMaxBytes(ctx, o.maxBytes); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

// openSQLiteReadOnly opens the store in the existing file at path for
// reading only (WithReadOnly): a pool of read-only connections, no writer,
// no migration, and a schema that must be the one this release reads.
func openSQLiteReadOnly(ctx context.Context, path string, o sqliteOptions) (*SQLiteStore, error) {
	op := fmt.Sprintf("open %s read-only", path)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, opErr(op, fmt.Errorf("%w: a read-only opening creates nothing", fs.ErrNotExist))
	case err != nil:
		return nil, opErr(op, err)
	case fi.IsDir():
		return nil, opErr(op, errors.New("a directory, not a database file"))
	}
	uri := "file:" + escapePath(path)
	common := "mode=ro&_pragma=busy_timeout(" + strconv.FormatInt(o.busyTimeout.Milliseconds(), 10) + ")"
	readers, err := sqlx.Open("sqlite", uri+"?"+common+"&_pragma=query_only(1)&_pragma=cache_size(-16384)")
	if err != nil {
		return nil, opErr(op, err)
	}
	readers.SetMaxOpenConns(o.readers)
	readers.SetMaxIdleConns(o.readers)
	if err := checkSchema(ctx, readers); err != nil {
		_ = readers.Close()
		if isReadOnlyDirectory(err) {
			err = fmt.Errorf("%w: to read a WAL database SQLite must create %s-shm beside it, and may not write in %s; read it as a user who may, or while the application that writes it has it open",
				err, filepath.Base(path), filepath.Dir(path))
		}
		return nil, opErr(op, err)
	}
	// VACUUM INTO (Backup) runs on a read-only connection, but not under
	// query_only.
	return &SQLiteStore{readers: readers, cache: sqlcore.NewStmtCache(readers), own: true, readOnly: true, core: sqliteCore, backupURI: uri + "?" + common}, nil
}

// checkSchema checks that the database holds the schema this release
// reads, migrated by it: no newer (ErrSchemaTooNew), no older
// (ErrSchemaNotMigrated).
func checkSchema(ctx context.Context, db *sqlx.DB) error {
	var tables int
	if err := db.GetContext(ctx, &tables, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_schema_migrations'`); err != nil {
		return classify(err)
	}
	if tables == 0 {
		return fmt.Errorf("%w: the database holds no audit tables (not an audit log, or one never opened for writing)", ErrSchemaNotMigrated)
	}
	var current int
	if err := db.GetContext(ctx, &current, `SELECT coalesce(max(version), 0) FROM audit_schema_migrations`); err != nil {
		return classify(err)
	}
	all := migrations()
	known := all[len(all)-1].Version
	switch {
	case current > known:
		return fmt.Errorf("%w: schema version %d, and this release knows versions up to %d: read it with the release that migrated it, or a newer one",
			ErrSchemaTooNew, current, known)
	case current < known:
		return fmt.Errorf("%w: schema version %d, and this release reads version %d: open the log once for writing with this release (without WithReadOnly; its application does so as it starts) to migrate it",
			ErrSchemaNotMigrated, current, known)
	}
	return nil
}

func isReadOnlyDirectory(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_READONLY_DIRECTORY
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
	s := &SQLiteStore{wconn: conn, readers: readers, core: sqliteCore}
	if readers != nil {
		s.cache = sqlcore.NewStmtCache(readers)
	}
	if s.migrated, err = migrate(ctx, conn); err != nil {
		_ = conn.Close()
		return nil, err
	}
	if s.stmts, err = s.core.Prepare(ctx, conn); err != nil {
		_ = conn.Close()
		return nil, err
	}
	for _, x := range []struct {
		dst **sqlx.Stmt
		sql string
	}{{&s.begin, "BEGIN IMMEDIATE"}, {&s.commit, "COMMIT"}, {&s.rollback, "ROLLBACK"}} {
		if *x.dst, err = conn.PreparexContext(ctx, x.sql); err != nil {
			_ = s.stmts.Close()
			_ = conn.Close()
			return nil, fmt.Errorf("prepare: %w", classify(err))
		}
	}
	return s, nil
}

// SetMaxBytes caps the size of the database file from now on (see
// WithMaxBytes); 0 removes the cap. It cannot shrink the cap below
// the current size.
func (s *SQLiteStore) SetMaxBytes(ctx context.Context, n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return opErr("set max bytes", ErrClosed)
	}
	if s.readOnly {
		return opErr("set max bytes", ErrReadOnly)
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

// Migrated returns the schema versions this store applied when it opened
// (none when opened WithReadOnly).
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
	var err error
	if s.ckpt != nil {
		err = s.ckpt.close()
	}
	if !s.readOnly {
		err = errors.Join(err, s.stmts.Close(), s.begin.Close(), s.commit.Close(), s.rollback.Close(), s.wconn.Close())
	}
	if s.cache != nil {
		err = errors.Join(err, s.cache.Close())
	}
	if s.own {
		if s.readers != nil {
			err = errors.Join(err, s.readers.Close())
		}
		if s.writer != nil {
			err = errors.Join(err, s.writer.Close())
		}
	}
	return err
}

func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// migrations splits schema.sql into its numbered migrations.
func migrations() []sqlcore.Migration { return sqlcore.Migrations(schemaSQL) }

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
	all := migrations()
	if known := all[len(all)-1].Version; current > known {
		// A newer release keeps its tables otherwise: writing with this
		// one could leave them disagreeing with the log.
		return nil, fmt.Errorf("%w: schema version %d, and this release knows versions up to %d: open it with the release that migrated it, or a newer one",
			ErrSchemaTooNew, current, known)
	}
	for _, m := range all {
		if m.Version <= current {
			continue
		}
		if _, err := conn.ExecContext(ctx, m.SQL); err != nil {
			return nil, fmt.Errorf("migrate to version %d: %w", m.Version, classify(err))
		}
		if after := afterMigration[m.Version]; after != nil {
			if err := after(ctx, conn); err != nil {
				return nil, fmt.Errorf("migrate to version %d: %w", m.Version, classify(err))
			}
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO audit_schema_migrations (version, applied_at) VALUES (?, ?)",
			m.Version, time.Now().UnixNano()); err != nil {
			return nil, fmt.Errorf("migrate to version %d: %w", m.Version, classify(err))
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// afterMigration holds the steps some migrations take in Go, in the same
// transaction, after their SQL: migration 4 fills the tables it creates
// from the events already in the log, with the code that keeps them on
// write (sqlcore.Backfill).
var afterMigration = map[int]func(context.Context, *sqlx.Conn) error{
	4: func(ctx context.Context, conn *sqlx.Conn) error {
		st, err := sqliteCore.Prepare(ctx, conn)
		if err != nil {
			return err
		}
		defer st.Close()
		return sqliteCore.Backfill(ctx, conn, st)
	},
}

// Append implements Store: one IMMEDIATE transaction on the writer
// connection. A store opened WithReadOnly has none: Append fails with an
// error wrapping ErrReadOnly.
func (s *SQLiteStore) Append(ctx context.Context, events []Event) (res []AppendResult, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, opErr("append", ErrClosed)
	}
	if s.readOnly {
		return nil, opErr("append", ErrReadOnly)
	}
	if _, err := s.begin.ExecContext(ctx); err != nil {
		return nil, opErr("append: begin", classify(err))
	}
	res, err = s.append(ctx, s.stmts, events)
	if err == nil {
		if _, cerr := s.commit.ExecContext(ctx); cerr != nil {
			err = fmt.Errorf("commit: %w", classify(cerr))
		} else if s.ckpt != nil {
			s.ckpt.committed(ctx, s.wconn)
		}
	}
	if err != nil {
		_, _ = s.rollback.ExecContext(context.WithoutCancel(ctx))
		return nil, opErr("append", err)
	}
	return res, nil
}

// AppendTx implements TxStore; on a store opened WithReadOnly it fails
// with an error wrapping ErrReadOnly.
func (s *SQLiteStore) AppendTx(ctx context.Context, tx *sqlx.Tx, events []Event) ([]AppendResult, error) {
	if s.readOnly {
		return nil, opErr("append in transaction", ErrReadOnly)
	}
	// Take the write lock before reading the head, so that a deferred
	// transaction does not read a head that another writer then moves.
	if _, err := tx.ExecContext(ctx, `UPDATE audit_counts SET n = n WHERE 0`); err != nil {
		return nil, opErr("append in transaction", classify(err))
	}
	st, err := s.core.Prepare(ctx, tx)
	if err != nil {
		return nil, opErr("append in transaction", err)
	}
	defer st.Close()
	res, err := s.append(ctx, st, events)
	if err != nil {
		return nil, opErr("append in transaction", err)
	}
	return res, nil
}

// append appends events with the shared code, on the statements of the
// current transaction.
func (s *SQLiteStore) append(ctx context.Context, st *sqlcore.Stmts, events []Event) ([]AppendResult, error) {
	results, err := s.core.Append(ctx, st, events)
	if err != nil {
		return nil, err
	}
	return appendResults(results), nil
}

// appendResults turns the shared code's results into a Store's.
func appendResults(results []sqlcore.Result[Event]) []AppendResult {
	out := make([]AppendResult, len(results))
	for i, r := range results {
		out[i] = AppendResult{Event: r.Event, Err: r.Err}
		if r.Err != nil {
			out[i].Err = opErr("append", r.Err)
		}
	}
	return out
}

// sqliteDialect is what SQLite adds to the shared SQL (internal/sqlcore).
type sqliteDialect struct{}

func (sqliteDialect) Rebind(query string) string     { return query }
func (sqliteDialect) Args(args []any) []any          { return args }
func (sqliteDialect) IndexedBy(index string) string  { return "INDEXED BY " + index }
func (sqliteDialect) Unindexed(column string) string { return "+" + column }
func (sqliteDialect) MaxText(expr string) string     { return "max(" + expr + ")" }
func (sqliteDialect) Classify(err error) error       { return classify(err) }
func (sqliteDialect) IsConstraint(err error) bool    { return isConstraint(err) }
func (sqliteDialect) TargetsOf() string              { return sqliteTargetsOf }
func (sqliteDialect) OrderedJoin(table, alias, on string) string {
	return "CROSS JOIN " + table + " " + alias + " ON " + on
}
func (sqliteDialect) NotIn(row, _ []string, query string) string {
	return "(" + strings.Join(row, ", ") + ") NOT IN (" + query + ")"
}

// sqliteTargetsOf expands the targets JSON of every event with json_each.
const sqliteTargetsOf = `SELECT e.tenant AS tenant, coalesce(json_extract(j.value, '$.id'), '') AS id,
	coalesce(json_extract(j.value, '$.type'), '') AS type, e.seq AS seq,
	e.resource_id AS resource_id, e.resource_type AS resource_type
	FROM audit_events e, json_each(e.targets) j WHERE e.targets IS NOT NULL`

// sqliteCore is the shared SQL on SQLite.
var sqliteCore = &sqlcore.Store[Event]{Dialect: sqliteDialect{}, Codec: eventCodec{}, Fold: true}

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

const sqlHead = `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`

// Head implements Store.
func (s *SQLiteStore) Head(ctx context.Context) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := s.cache.QueryRowxContext(ctx, sqlHead).Scan(&seq, &hash)
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

// CheckDerived implements DerivedChecker. Its parts run side by side, as
// many at once as there are processors (and reader connections, less one
// for the application), each in a read transaction of its own: each part
// compares a derived table with the log in one snapshot, which is what it
// needs; two parts need not share one. A part that finds a problem stops
// the parts after it (in the order of sqlcore's DerivedChecks), so the
// problem reported is always that of the first part that finds one, as if
// they had run one after another.
func (s *SQLiteStore) CheckDerived(ctx context.Context) (string, error) {
	checks := s.core.DerivedChecks()
	type part struct {
		ctx     context.Context
		cancel  context.CancelFunc
		problem string
		err     error
	}
	parts := make([]part, len(checks))
	for i := range parts {
		parts[i].ctx, parts[i].cancel = context.WithCancel(ctx)
		defer parts[i].cancel()
	}
	var mu sync.Mutex // orders the cancels: a part that finds a problem stops the parts after it
	sem := make(chan struct{}, s.derivedParallelism())
	var wg sync.WaitGroup
	for i, check := range checks {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			problem, err := s.derivedCheck(parts[i].ctx, check)
			mu.Lock()
			defer mu.Unlock()
			parts[i].problem, parts[i].err = problem, err
			if problem != "" || err != nil {
				for j := i + 1; j < len(parts); j++ {
					parts[j].cancel()
				}
			}
		}()
	}
	wg.Wait()
	// The first part that found a problem or failed ran to its end: no
	// part before it stopped it.
	for _, p := range parts {
		if p.problem != "" || p.err != nil {
			return p.problem, p.err
		}
	}
	return "", nil
}

// derivedParallelism is how many parts of CheckDerived run at once: one
// per processor, leaving a connection of the readers' pool to the
// application (and, in an application's pool, one more for the writer).
func (s *SQLiteStore) derivedParallelism() int {
	n := runtime.GOMAXPROCS(0)
	if conns := s.readers.Stats().MaxOpenConnections; conns > 0 {
		spare := conns - 1
		if !s.own {
			spare-- // the writer's connection is one of them
		}
		n = min(n, spare)
	}
	return max(n, 1)
}

// derivedCheck runs one part of CheckDerived in a read transaction.
func (s *SQLiteStore) derivedCheck(ctx context.Context, check sqlcore.DerivedCheck) (string, error) {
	tx, err := s.readers.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return "", opErr("check derived tables", s.readErr(err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	problem, err := check(ctx, tx)
	if err != nil {
		return "", opErr("check derived tables", s.readErr(err))
	}
	return problem, nil
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

// Get implements Store.
func (s *SQLiteStore) Get(ctx context.Context, scope Filter, id string) (Event, error) {
	e, err := s.core.Get(ctx, s.cache, scope, id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Event{}, opErr(fmt.Sprintf("get %q", id), ErrNotFound)
	case err != nil:
		return Event{}, opErr(fmt.Sprintf("get %q", id), s.readErr(err))
	}
	return e, nil
}

// readErr translates errors of a closed store.
func (s *SQLiteStore) readErr(err error) error {
	if errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "database is closed") || strings.Contains(err.Error(), "statement is closed") {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return classify(err)
}

// List implements Store: the page and its total are read in one read
// transaction, so they agree.
func (s *SQLiteStore) List(ctx context.Context, f Filter, cursor int64, offset, limit int) ([]Event, int64, error) {
	tx, err := s.readers.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, opErr("list", s.readErr(err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	events, total, err := s.core.List(ctx, s.cache.Tx(tx), f, cursor, offset, limit)
	if err != nil {
		return nil, 0, opErr("list", s.readErr(err))
	}
	return events, total, nil
}

// Range implements Store, in one read transaction.
func (s *SQLiteStore) Range(ctx context.Context, f Filter, cursor int64, limit int) ([]Event, int64, error) {
	tx, err := s.readers.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, opErr("range", s.readErr(err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	events, through, err := s.core.Range(ctx, s.cache.Tx(tx), f, cursor, limit)
	if err != nil {
		return nil, 0, opErr("range", s.readErr(err))
	}
	return events, through, nil
}

// Actions implements Store.
func (s *SQLiteStore) Actions(ctx context.Context, scope Filter, prefix string, limit int) ([]ActionCount, error) {
	all, err := s.core.Actions(ctx, s.cache, scope, prefix, limit)
	if err != nil {
		return nil, opErr("actions", s.readErr(err))
	}
	return actionCounts(all), nil
}

// Suggest implements Store.
func (s *SQLiteStore) Suggest(ctx context.Context, scope Filter, term string, limit int) ([]Suggestion, error) {
	found, err := s.core.Suggest(ctx, s.cache, scope, term, limit)
	if err != nil {
		return nil, opErr("suggest", s.readErr(err))
	}
	return suggestions(found), nil
}

// suggestions turns the shared code's suggestions into the API's.
func suggestions(found []sqlcore.Suggestion) []Suggestion {
	out := make([]Suggestion, len(found))
	for i, s := range found {
		out[i] = Suggestion(s)
	}
	return out
}

// actionCounts turns the shared code's action counts into the API's.
func actionCounts(all []sqlcore.ActionCount) []ActionCount {
	out := make([]ActionCount, len(all))
	for i, a := range all {
		out[i] = ActionCount{Action: a.Action, Count: a.Count}
	}
	return out
}
