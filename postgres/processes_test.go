package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/postgres"
)

// The environment of a writer process (TestWriterProcess).
const (
	envWriterDSN     = "AUDIT_PG_WRITER_DSN"
	envWriterEvents  = "AUDIT_PG_WRITER_EVENTS"
	envWriterCallers = "AUDIT_PG_WRITER_CALLERS"
	// envHeavy makes TestManyProcesses write 20 times as much.
	envHeavy = "AUDIT_PG_HEAVY"
)

// TestManyProcesses starts 4 processes that each open the same (new)
// schema at once, migrating it once between them, and write with 16
// callers each through their own Logger; then checks, from a fifth store,
// that every acknowledged event is there, once, with gapless Seqs, and that
// the whole chain verifies. AUDIT_PG_HEAVY=1 writes 20 times as many.
func TestManyProcesses(t *testing.T) {
	t.Parallel()
	needServer(t)
	const processes, callers = 4, 16
	perProcess := callers * 25
	if os.Getenv(envHeavy) != "" {
		perProcess *= 20
	}
	dsn := newSchema(t)
	ctx := t.Context()
	var acked atomic.Int64
	var wg sync.WaitGroup
	outs := make([]string, processes)
	errs := make([]error, processes)
	for p := range processes {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestWriterProcess$", "-test.v")
			cmd.Env = append(os.Environ(), envWriterDSN+"="+dsn,
				envWriterEvents+"="+strconv.Itoa(perProcess), envWriterCallers+"="+strconv.Itoa(callers))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			errs[p] = cmd.Run()
			outs[p] = out.String()
			for line := range strings.Lines(out.String()) {
				if n, ok := strings.CutPrefix(strings.TrimSpace(line), "acknowledged "); ok {
					v, err := strconv.ParseInt(n, 10, 64)
					if err == nil {
						acked.Add(v)
					}
				}
			}
		})
	}
	wg.Wait()
	for p, err := range errs {
		require.NoError(t, err, "writer process %d:\n%s", p, outs[p])
	}
	want := int64(processes * perProcess)
	require.Equal(t, want, acked.Load(), "every call of every process was acknowledged")

	s, err := postgres.Open(ctx, dsn, postgres.WithMaxConns(4))
	require.NoError(t, err)
	require.Empty(t, s.Migrated(), "the writers migrated the schema")
	l, err := audit.New(s)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	var rows, maxSeq, distinct, migrations int64
	db := s.DB()
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*), coalesce(max(seq), 0), count(DISTINCT id) FROM audit_events`).Scan(&rows, &maxSeq, &distinct))
	require.Equal(t, want, rows, "every acknowledged event is stored")
	require.Equal(t, want, maxSeq, "Seq is gapless across the processes")
	require.Equal(t, want, distinct, "each event is stored once")
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM audit_schema_migrations`).Scan(&migrations))
	require.Equal(t, int64(2), migrations, "four processes opening a new schema at once migrate it once (migrations 1 and 2, one row each)")
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "the chain written by four processes verifies: %+v", rep)
	require.Equal(t, want, rep.Checked)
	p, err := l.Recent(ctx, audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.Equal(t, int(want), p.TotalCount, "the counters saw every process")
}

// TestWriterProcess is one writer of TestManyProcesses, run in a process of
// its own; it skips when run otherwise. It opens the store at
// $AUDIT_PG_WRITER_DSN, writes $AUDIT_PG_WRITER_EVENTS events from
// $AUDIT_PG_WRITER_CALLERS goroutines through one Logger, and prints how
// many were acknowledged.
func TestWriterProcess(t *testing.T) {
	dsn := os.Getenv(envWriterDSN)
	if dsn == "" {
		t.Skip("a helper of TestManyProcesses")
	}
	events, err := strconv.Atoi(os.Getenv(envWriterEvents))
	require.NoError(t, err)
	callers, err := strconv.Atoi(os.Getenv(envWriterCallers))
	require.NoError(t, err)
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn, postgres.WithMaxConns(4))
	require.NoError(t, err)
	l, err := audit.New(s)
	require.NoError(t, err)
	var next, acked atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, callers)
	pid := os.Getpid()
	for c := range callers {
		wg.Go(func() {
			for next.Add(1) <= int64(events) {
				_, err := l.Track(ctx, audit.Ref{Type: "process", ID: strconv.Itoa(pid)}, "writer.wrote",
					audit.Ref{Type: "caller", ID: strconv.Itoa(c)}, audit.WithMeta("pid", pid))
				if err != nil {
					errs[c] = err
					return
				}
				acked.Add(1)
			}
		})
	}
	wg.Wait()
	fmt.Printf("acknowledged %d\n", acked.Load())
	for c, err := range errs {
		require.NoError(t, err, "caller %d", c)
	}
	require.NoError(t, l.Close())
}
