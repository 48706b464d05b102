package main_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// The tests run the audit command as its users do: built into a binary
// (with -race when the tests run with it), against log files that the
// library writes.
var (
	bin     string // the audit binary, built by TestMain
	fixture string // a log of fixtureEvents events in three tenants, written by TestMain and only read
)

const fixtureEvents = 600

// fixtureBase is when the fixture's first event occurred; event i
// occurred i minutes later.
var fixtureBase = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "audit-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	defer func() {
		_ = os.RemoveAll(dir)
		os.Exit(code)
	}()
	bin = filepath.Join(dir, "audit")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the audit command:", err)
		return
	}
	fixture = filepath.Join(dir, "fixture.db")
	if err := writeFixture(fixture); err != nil {
		fmt.Fprintln(os.Stderr, "writing the fixture log:", err)
		return
	}
	code = m.Run()
}

// writeFixture writes a log with fixtureEvents events: three tenants,
// users, API keys and the system as actors, five actions, projects and
// billing accounts as resources and targets, failures. Eight writers
// share the transactions.
func writeFixture(path string) error {
	ctx := context.Background()
	l, err := audit.Open(ctx, path)
	if err != nil {
		return err
	}
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 1 + w; i <= fixtureEvents && errs[w] == nil; i += writers {
				_, errs[w] = l.Record(ctx, fixtureEvent(i))
			}
		})
	}
	wg.Wait()
	return errors.Join(append(errs, l.Close())...)
}

func fixtureEvent(i int) audit.Event {
	action := []string{"user.signed_in", "billing.invoice.paid", "project.deleted", "project.created", "doc.shared"}[i%5]
	e := audit.Event{
		Tenant:     []string{"", "acme", "globex"}[i%3],
		Action:     action,
		Actor:      audit.Ref{Type: "user", ID: fmt.Sprint(i % 7), Name: fmt.Sprintf("User %d", i%7)},
		Resource:   audit.Ref{Type: "project", ID: fmt.Sprintf("prj_%d", i%11), Name: fmt.Sprintf("Project %d", i%11)},
		Metadata:   map[string]any{"i": i},
		OccurredAt: fixtureBase.Add(time.Duration(i) * time.Minute),
	}
	switch {
	case i%10 == 0:
		e.Actor = audit.Ref{}
	case i%13 == 0:
		e.Actor.Type = "api_key"
	}
	if strings.HasPrefix(action, "billing.") {
		e.Resource = audit.Ref{Type: "billing_account", ID: fmt.Sprintf("acct_%d", i%4), Name: "Account"}
	}
	if i%4 == 0 {
		e.Targets = []audit.Ref{{Type: "billing_account", ID: fmt.Sprintf("acct_%d", i%4)}}
	}
	if i%6 == 0 {
		e.Outcome = audit.OutcomeFailure
	}
	return e
}

// result is what a run of the command printed and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// cliEnv is the environment of the command: this process's, without
// AUDIT_DB. A command built with -race would wait a second as it exits
// (the race detector's atexit_sleep_ms): it does not, and still exits
// with 66 and its report on stderr if it finds a race.
func cliEnv() []string {
	var env []string
	gorace := "atexit_sleep_ms=0"
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "AUDIT_DB="):
		case strings.HasPrefix(kv, "GORACE="):
			gorace = strings.TrimPrefix(kv, "GORACE=") + " " + gorace
		default:
			env = append(env, kv)
		}
	}
	return append(env, "GORACE="+gorace)
}

// execCommand is the audit command with args, in the environment of
// cliEnv, ended with the test.
func execCommand(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = cliEnv()
	return cmd
}

// run runs the audit command with args and returns what it printed.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runIn(t, nil, args...)
}

// runIn is run with more environment variables and stdin.
func runIn(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	cmd := execCommand(t, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// ok runs the command, requires it to succeed with nothing on stderr, and
// returns its stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := run(t, args...)
	require.Equal(t, 0, r.code, "audit %s: %s", strings.Join(args, " "), r.stderr)
	require.Empty(t, r.stderr, "audit %s", strings.Join(args, " "))
	return r.stdout
}

// newLog opens a new log in a temporary directory; the test closes it
// when it is done with it (or at the end).
func newLog(t *testing.T) (*audit.Logger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	l, err := audit.Open(t.Context(), path)
	require.NoError(t, err)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { _ = l.Close() }) })
	return l, path
}

// openFixture opens the fixture log read-only, as the command does.
func openFixture(t *testing.T) *audit.Logger {
	t.Helper()
	l, err := audit.Open(t.Context(), fixture, audit.WithReadOnly())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l
}

// sqlite3Shell returns the path of the sqlite3 command-line shell. CI must
// have it (.ci/run installs it); elsewhere the test is skipped without it.
func sqlite3Shell(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("sqlite3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sqlite3 shell not installed (.ci/run installs it)")
		}
		t.Skip("sqlite3 shell not installed")
	}
	return path
}

// shell runs SQL on the file with the sqlite3 shell, as someone
// tampering with it would.
func shell(t *testing.T, path, sql string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), sqlite3Shell(t), "-bail", path, sql).CombinedOutput()
	require.NoError(t, err, "%s: %s", sql, out)
}
