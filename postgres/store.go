package postgres

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/internal/sqlcore"
)

// NotifyChannel is the channel every commit that appends events notifies,
// with the Seq of the newest event it appended, in decimal, as the only
// payload. LISTEN on it to learn that the log moved.
const NotifyChannel = "audit_events"

// DriverName is the database/sql driver the store runs on: pgx's stdlib
// driver, registered under this name by github.com/jackc/pgx/v5/stdlib.
const DriverName = "pgx"

//go:embed schema.sql
var schemaSQL string

// Store is the audit.Store on a PostgreSQL database. Appends run on one
// connection of the pool, reads on the others. It is safe for concurrent
// use, and any number of Stores, in any number of processes, may append to
// one database at once.
type Store struct {
	db   *sqlx.DB
	own  bool // Close closes db
	core *sqlcore.Store[audit.Event]
	lock string // the statement that takes the head lock

	recount sync.Mutex // one CheckDerived at a time: each holds two connections

	mu     sync.Mutex // serializes appends on w
	w      *sqlx.Conn // nil until the first append, and after a broken one
	stmts  *sqlcore.Stmts
	closed atomic.Bool

	migrated []int
}

var (
	_ audit.Store          = (*Store)(nil)
	_ audit.TxStore        = (*Store)(nil)
	_ audit.DerivedChecker = (*Store)(nil)
	_ audit.Notifier       = (*Store)(nil)
)

// Open connects to the database dsn names (a URL or key=value string, as
// pgx takes it; empty: the PG* environment variables), creates and migrates
// the audit tables as needed, and returns a store on it, for audit.New. The
// store owns the pool it opens: Close closes it. Put search_path in the DSN
// to keep the tables in a schema of their own.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, opErr("open", err)
	}
	db := sqlx.NewDb(stdlib.OpenDB(*cfg), DriverName)
	db.SetMaxOpenConns(o.maxConns)
	db.SetMaxIdleConns(o.maxConns)
	s, err := newStore(ctx, db, o)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// New creates and migrates the audit tables as needed in the application's
// own database db (opened with driver DriverName) and returns a store on
// it, for audit.New and for Logger.TrackTx on transactions of db. The store
// takes one connection of db's pool for its appends and reads through the
// others (one listens while a Logger's Tail runs, two at once for Verify's
// recount of the derived tables), so db must allow four open connections
// at least; Close gives the appends' connection back and leaves db open.
func New(ctx context.Context, db *sqlx.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, opErr("new", errors.New("nil db"))
	}
	if n := db.Stats().MaxOpenConnections; n > 0 && n < minConns {
		return nil, opErr("new", fmt.Errorf("db allows %d open connections; the store needs %d: one for its appends, one for a tail's listener, two for Verify's recount", n, minConns))
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.maxConnsSet {
		return nil, fmt.Errorf("%w: WithMaxConns applies to Open only: New takes the caller's pool as it is", audit.ErrInvalidOption)
	}
	return newStore(ctx, db, o)
}

func newStore(ctx context.Context, db *sqlx.DB, o options) (*Store, error) {
	s := &Store{db: db, core: coreStore}
	var err error
	if s.migrated, err = migrate(ctx, db); err != nil {
		return nil, opErr("migrate", classify(err))
	}
	var oid uint32
	if err := db.QueryRowContext(ctx, `SELECT 'audit_events'::regclass::oid`).Scan(&oid); err != nil {
		return nil, opErr("open", classify(err))
	}
	// The head lock is a transaction-level advisory lock keyed on the
	// events table, so that logs in other schemas of the database do not
	// wait for each other. Its keys are integers the store computes, never
	// input.
	s.lock = `SELECT pg_advisory_xact_lock(` + strconv.Itoa(lockSpaceHead) + `, ` + strconv.Itoa(int(int32(oid))) + `)`
	if o.rowLevelSecurity {
		for _, table := range rlsTables {
			if _, err := db.ExecContext(ctx, `ALTER TABLE `+table+` ENABLE ROW LEVEL SECURITY`); err != nil {
				return nil, opErr("row-level security", classify(err))
			}
		}
	}
	return s, nil
}

// rlsTables are the tables that carry a tenant policy: the log and every
// table derived from it.
var rlsTables = []string{"audit_events", "audit_counts", "audit_action_terms", "audit_targets", "audit_refs", "audit_ref_terms"}

// The advisory lock spaces (the first key of the two-key form) of the
// store: one for migrations, keyed on the schema; one for the head, keyed
// on the events table.
const (
	lockSpaceMigrate = 0x61756400 // "aud\0"
	lockSpaceHead    = 0x61756401
)

// Migrated returns the schema versions this store applied when it opened.
func (s *Store) Migrated() []int { return s.migrated }

// DB returns the pool the store reads through.
func (s *Store) DB() *sqlx.DB { return s.db }

// Close gives back the connection appends run on, and closes the pool when
// Open made it. Calls after Close return audit.ErrClosed. Close is
// idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	err := s.dropWriter()
	if s.own {
		err = errors.Join(err, s.db.Close())
	}
	return err
}

// migrations splits schema.sql into its numbered migrations.
func migrations() []sqlcore.Migration { return sqlcore.Migrations(schemaSQL) }

// schemaVersion returns the newest migration applied, 0 for none.
func schemaVersion(ctx context.Context, q sqlx.QueryerContext) (int, error) {
	var exists bool
	if err := sqlx.GetContext(ctx, q, &exists, `SELECT to_regclass('audit_schema_migrations') IS NOT NULL`); err != nil || !exists {
		return 0, err
	}
	var v int
	err := sqlx.GetContext(ctx, q, &v, `SELECT coalesce(max(version), 0) FROM audit_schema_migrations`)
	return v, err
}

// migrate applies the migrations the database lacks. A database that has
// them all is only read, so a role that cannot create tables opens it. The
// others are applied in one transaction that first takes an advisory lock
// keyed on the schema: app servers starting together wait for the first,
// then find nothing left to do.
func migrate(ctx context.Context, db *sqlx.DB) (applied []int, err error) {
	all := migrations()
	current, err := schemaVersion(ctx, db)
	if err != nil {
		return nil, err
	}
	switch known := all[len(all)-1].Version; {
	case current > known:
		// A newer release keeps its tables otherwise: writing with this
		// one could leave them disagreeing with the log.
		return nil, fmt.Errorf("%w: schema version %d, and this release knows versions up to %d: open it with the release that migrated it, or a newer one",
			audit.ErrSchemaTooNew, current, known)
	case current == known:
		return nil, nil
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, lockSpaceMigrate); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS audit_schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return nil, err
	}
	if current, err = schemaVersion(ctx, tx); err != nil {
		return nil, err
	}
	for _, m := range all {
		if m.Version <= current {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return nil, fmt.Errorf("to version %d: %w", m.Version, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_schema_migrations (version, applied_at) VALUES ($1, $2)`,
			m.Version, time.Now().UnixNano()); err != nil {
			return nil, fmt.Errorf("to version %d: %w", m.Version, err)
		}
		applied = append(applied, m.Version)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return applied, nil
}
