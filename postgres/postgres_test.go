package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/audittest"
	"github.com/trailkit/audit/postgres"
)

// serverHint is how to run these tests.
const serverHint = "the PostgreSQL tests need a server: run them under pg_virtualenv " +
	"(Debian's postgresql-common), e.g. `cd postgres && pg_virtualenv go test ./...`, " +
	"or set PGHOST, PGPORT, PGUSER and PGPASSWORD to a server where PGUSER may create roles and schemas"

// needServer skips the test unless the PG* variables name a server.
func needServer(t *testing.T) {
	t.Helper()
	if os.Getenv("PGHOST") == "" {
		t.Skip(serverHint)
	}
}

// admin is a pool on the server as PGUSER (a superuser under
// pg_virtualenv), shared by the tests of the package.
var admin = sync.OnceValues(func() (*sqlx.DB, error) {
	db, err := sqlx.Open(postgres.DriverName, "")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	return db, db.Ping()
})

func adminDB(t *testing.T) *sqlx.DB {
	t.Helper()
	needServer(t)
	db, err := admin()
	require.NoError(t, err, serverHint)
	return db
}

// newSchema creates a schema of its own for one test, dropped when the
// test ends, and returns the DSN of a connection that keeps its tables
// there (the rest of the DSN comes from the PG* variables).
func newSchema(t *testing.T) string {
	t.Helper()
	db := adminDB(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "audit_test_" + hex.EncodeToString(b[:])
	_, err := db.ExecContext(t.Context(), `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := db.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		require.NoError(t, err)
	})
	return "search_path=" + schema
}

// openStore opens a store in a new schema, closed when the test ends unless
// a Logger took it over.
func openStore(t *testing.T, opts ...postgres.Option) (*postgres.Store, string) {
	t.Helper()
	dsn := newSchema(t)
	s, err := postgres.Open(t.Context(), dsn, append([]postgres.Option{postgres.WithMaxConns(4)}, opts...)...)
	require.NoError(t, err)
	return s, dsn
}

// setup returns a Logger on a store in a new schema, closed when the test
// ends.
func setup(t *testing.T, opts ...postgres.Option) (*audit.Logger, *postgres.Store, string) {
	t.Helper()
	s, dsn := openStore(t, opts...)
	l, err := audit.New(s)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l, s, dsn
}

// bind binds strings as the store binds the text columns: as bytes.
func bind(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			a = append([]byte{}, s...)
		}
		out[i] = a
	}
	return out
}

// stores knows the DSN of each store the conformance test made.
type stores struct {
	mu   sync.Mutex
	dsns map[audit.Store]string
}

func (st *stores) dsn(t *testing.T, s audit.Store) string {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	dsn, ok := st.dsns[s]
	require.True(t, ok, "a store this test did not make")
	return dsn
}

func TestConformance(t *testing.T) {
	t.Parallel()
	needServer(t)
	st := &stores{dsns: map[audit.Store]string{}}
	exec := func(t *testing.T, s audit.Store, query string, args ...any) error {
		_, err := s.(*postgres.Store).DB().ExecContext(t.Context(), sqlx.Rebind(sqlx.DOLLAR, query), bind(args)...)
		return err
	}
	audittest.RunWith(t, func(t *testing.T) audit.Store {
		s, dsn := openStore(t)
		st.mu.Lock()
		st.dsns[s] = dsn
		st.mu.Unlock()
		return s
	}, audittest.Options{
		Exec: exec,
		// Tamper switches triggers off for one transaction, as a superuser
		// can (session_replication_role = replica).
		Tamper: func(t *testing.T, s audit.Store, query string, args ...any) {
			ctx := t.Context()
			tx, err := s.(*postgres.Store).DB().BeginTxx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback() //nolint:errcheck // committed below
			_, err = tx.ExecContext(ctx, `SET LOCAL session_replication_role = replica`)
			require.NoError(t, err)
			_, err = tx.ExecContext(ctx, sqlx.Rebind(sqlx.DOLLAR, query), bind(args)...)
			require.NoError(t, err)
			require.NoError(t, tx.Commit())
		},
		BeginTx: func(t *testing.T, s audit.Store) *sqlx.Tx {
			tx, err := s.(*postgres.Store).DB().BeginTxx(t.Context(), nil)
			require.NoError(t, err)
			return tx
		},
		Reopen: func(t *testing.T, s audit.Store) audit.Store {
			s2, err := postgres.Open(t.Context(), st.dsn(t, s), postgres.WithMaxConns(4))
			require.NoError(t, err)
			return s2
		},
	})
}

// TestConformanceInApplicationDatabase runs the suite on stores made by New
// on an application's own pool.
func TestConformanceInApplicationDatabase(t *testing.T) {
	t.Parallel()
	needServer(t)
	audittest.RunWith(t, func(t *testing.T) audit.Store {
		db, err := sqlx.Open(postgres.DriverName, newSchema(t))
		require.NoError(t, err)
		db.SetMaxOpenConns(4)
		t.Cleanup(func() { require.NoError(t, db.Close()) })
		s, err := postgres.New(t.Context(), db)
		require.NoError(t, err)
		return s
	}, audittest.Options{
		BeginTx: func(t *testing.T, s audit.Store) *sqlx.Tx {
			tx, err := s.(*postgres.Store).DB().BeginTxx(t.Context(), nil)
			require.NoError(t, err)
			return tx
		},
	})
}

func TestOptions(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(t.Context(), "", postgres.WithMaxConns(1))
	require.ErrorIs(t, err, audit.ErrInvalidOption)
	_, err = postgres.New(t.Context(), nil)
	require.Error(t, err)
	require.Equal(t, "audit: postgres: new: nil db", err.Error())
	db, err := sqlx.Open(postgres.DriverName, "")
	require.NoError(t, err)
	db.SetMaxOpenConns(2)
	_, err = postgres.New(t.Context(), db)
	require.ErrorContains(t, err, "audit: postgres: new: db allows 2 open connections")
	db.SetMaxOpenConns(0)
	_, err = postgres.New(t.Context(), db, postgres.WithMaxConns(5))
	require.ErrorIs(t, err, audit.ErrInvalidOption)
}

func ExampleOpen() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, "postgres://app@db.internal/app?search_path=audit")
	if err != nil {
		fmt.Println(err)
		return
	}
	log, err := audit.New(store)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer log.Close()
	_, _ = log.Track(ctx, nil, "app.started", nil)
}
