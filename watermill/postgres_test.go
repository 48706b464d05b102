package watermill_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	wm "github.com/ThreeDotsLabs/watermill"
	wmsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	auditwm "github.com/trailkit/audit/watermill"
)

// The consumer process of TestPostgresKillLoop reads these.
const (
	childDBEnv    = "AUDIT_WM_CHILD_DB"
	childTopicEnv = "AUDIT_WM_CHILD_TOPIC"
	childMaxLife  = 5 * time.Minute // an orphaned consumer stops by itself
)

// postgres returns a pool on the PostgreSQL server that the PG*
// environment variables name, as pg_virtualenv sets them; without one the
// test is skipped (and fails under CI, which always has one).
func postgres(t *testing.T) *pgxpool.Pool {
	t.Helper()
	if os.Getenv("PGHOST") == "" {
		msg := "no PostgreSQL (PGHOST is not set): run these tests with `pg_virtualenv go test ./...` inside watermill/ (Debian's postgresql package)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; .ci/run does")
		}
		t.Skip(msg)
	}
	pool, err := pgxpool.New(t.Context(), "")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, pool.Ping(t.Context()))
	return pool
}

func sqlSubscriberConfig() wmsql.SubscriberConfig {
	return wmsql.SubscriberConfig{
		ConsumerGroup:  "audit",
		SchemaAdapter:  wmsql.DefaultPostgreSQLSchema{},
		OffsetsAdapter: wmsql.DefaultPostgreSQLOffsetsAdapter{},
		PollInterval:   20 * time.Millisecond,
		ResendInterval: 20 * time.Millisecond,
		RetryInterval:  50 * time.Millisecond,
	}
}

// killLoopSize is how many messages TestPostgresKillLoop publishes and how
// many consumers it kills: a bounded run by default (smaller with -short),
// a long one with AUDIT_WATERMILL_LONG set.
func killLoopSize() (messages, kills int) {
	switch {
	case os.Getenv("AUDIT_WATERMILL_LONG") != "":
		return 20_000, 32
	case testing.Short():
		return 2000, 12
	}
	return 3000, 16
}

// TestPostgresKillLoop: messages published to PostgreSQL through
// watermill-sql are recorded by a consumer process that is killed with
// SIGKILL again and again, at random moments, while publishing goes on;
// a last consumer finishes. Every message is recorded exactly once, field
// by field, and the log verifies.
func TestPostgresKillLoop(t *testing.T) {
	if path := os.Getenv(childDBEnv); path != "" {
		consume(path, os.Getenv(childTopicEnv))
		return
	}
	pool := postgres(t)
	t.Parallel()
	ctx := t.Context()
	n, kills := killLoopSize()
	topic := fmt.Sprintf("audit_kill_%d", time.Now().UnixNano())
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.db")
	log, err := audit.Open(ctx, path)
	require.NoError(t, err)
	defer func() { require.NoError(t, log.Close()) }()

	// The tables, before any consumer: one that is killed while it makes
	// them must not leave them half made.
	init, err := wmsql.NewSubscriber(wmsql.BeginnerFromPgx(pool), func() wmsql.SubscriberConfig {
		c := sqlSubscriberConfig()
		c.InitializeSchema = true
		return c
	}(), wm.NopLogger{})
	require.NoError(t, err)
	require.NoError(t, init.SubscribeInitialize(topic))
	require.NoError(t, init.Close())
	pub, err := wmsql.NewPublisher(wmsql.BeginnerFromPgx(pool), wmsql.PublisherConfig{SchemaAdapter: wmsql.DefaultPostgreSQLSchema{}}, wm.NopLogger{})
	require.NoError(t, err)
	defer func() { require.NoError(t, pub.Close()) }()

	p, msgs := prepare(t, topic, "ev", n)
	start := func(i int) (*exec.Cmd, string) {
		out := filepath.Join(dir, fmt.Sprintf("consumer-%02d.log", i))
		f, err := os.Create(out)
		require.NoError(t, err)
		defer f.Close()
		cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresKillLoop$", "-test.count=1")
		cmd.Env = append(os.Environ(), childDBEnv+"="+path, childTopicEnv+"="+topic)
		cmd.Stdout, cmd.Stderr = f, f
		require.NoError(t, cmd.Start())
		return cmd, out
	}
	// Each consumer gets a share of the messages, published just before
	// it starts, and is killed a random moment after it has recorded its
	// first one: in the middle of its work.
	var recorded []int
	chunk := (n + kills - 1) / kills
	for i := range kills {
		batch := msgs[min(i*chunk, n):min((i+1)*chunk, n)]
		require.NoError(t, pub.Publish(topic, batch...))
		before := total(t, log)
		cmd, out := start(i)
		require.Eventually(t, func() bool { return total(t, log) > before }, waitFor, time.Millisecond, "consumer %d records nothing", i)
		time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err := cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			raw, _ := os.ReadFile(out)
			require.FailNow(t, "the consumer ended before it was killed", "%v: %s", err, raw)
		}
		recorded = append(recorded, total(t, log))
	}

	// The last consumer records what is left.
	cmd, out := start(kills)
	ok := false
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		if total(t, log) >= n {
			ok = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	raw, _ := os.ReadFile(out)
	require.True(t, ok, "the last consumer did not record everything: %d of %d; its output: %s", total(t, log), n, raw)
	duplicates := 0
	for i := range kills + 1 {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("consumer-%02d.log", i)))
		require.NoError(t, err)
		duplicates += strings.Count(string(raw), "\nduplicate ")
	}
	t.Logf("%d messages, %d consumers killed with SIGKILL; events recorded after each kill: %v; deliveries again of recorded messages (absorbed by their keys): %d",
		n, kills, recorded, duplicates)

	requireRecordedOnce(t, log, p)
	rep, err := log.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	require.EqualValues(t, n, rep.Checked)
}

// consume is the consumer process: it records the messages of topic until
// it is killed (or, orphaned, for childMaxLife).
func consume(path, topic string) {
	ctx := context.Background()
	fail := func(what string, err error) {
		fmt.Println(what+":", err)
		os.Exit(1)
	}
	store, err := audit.OpenSQLite(ctx, path)
	if err != nil {
		fail("open", err)
	}
	log, err := audit.New(&dupStore{SQLiteStore: store})
	if err != nil {
		fail("open", err)
	}
	pool, err := pgxpool.New(ctx, "")
	if err != nil {
		fail("connect", err)
	}
	sub, err := wmsql.NewSubscriber(wmsql.BeginnerFromPgx(pool), sqlSubscriberConfig(), wm.NopLogger{})
	if err != nil {
		fail("subscriber", err)
	}
	li, err := log.Listen(ctx, auditwm.NewSubscriber(sub), topic)
	if err != nil {
		fail("listen", err)
	}
	fmt.Println("listening, pid", strconv.Itoa(os.Getpid()))
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-stop:
	case <-time.After(childMaxLife):
	}
	_ = li.Close()
	_ = log.Close()
	os.Exit(0)
}

// dupStore prints a line for each event that its idempotency key made a
// duplicate: a message delivered again after a consumer was killed
// between its commit and its ack.
type dupStore struct{ *audit.SQLiteStore }

func (s *dupStore) Append(ctx context.Context, events []audit.Event) ([]audit.AppendResult, error) {
	res, err := s.SQLiteStore.Append(ctx, events)
	for i, r := range res {
		if r.Err == nil && r.Event.ID != events[i].ID {
			fmt.Println("duplicate", events[i].IdempotencyKey)
		}
	}
	return res, err
}
