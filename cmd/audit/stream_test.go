package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// TestExportMatchesTheLibrary: export writes what Logger.Export writes for
// the same filters on the same file: CSV byte for byte, JSON Lines event
// for event (its header and closing line carry the time of the export);
// -o writes the same bytes, into a file of mode 0600, and nothing else.
func TestExportMatchesTheLibrary(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := openFixture(t)
	all := func(l *audit.Logger) *audit.Logger { return l.AllTenants() }
	since := fixtureBase.Add(100 * time.Minute)
	for _, c := range []struct {
		flags []string
		view  func(*audit.Logger) *audit.Logger
		q     audit.Query
	}{
		{nil, nil, audit.Query{}},
		{[]string{"--all-tenants"}, all, audit.Query{}},
		{[]string{"--all-tenants", "--action", "project.deleted", "--order", "oldest"}, all, audit.Query{Action: "project.deleted", Order: audit.OldestFirst}},
		{[]string{"--tenant", "acme", "--since", since.Format(time.RFC3339), "--until", "2026-11-01T12:00:00Z"},
			func(l *audit.Logger) *audit.Logger { return l.WithTenant("acme") },
			audit.Query{Since: since, Until: fixtureBase.Add(12 * time.Hour)}},
		{[]string{"--all-tenants", "--subject", "acct_1", "--outcome", "failure"}, all, audit.Query{Subject: "acct_1", Outcome: audit.OutcomeFailure}},
		{[]string{"--all-tenants", "--from-seq", "10", "--to-seq", "20"}, all, audit.Query{FromSeq: 10, ToSeq: 20}},
		{[]string{"--search", "inv", "--actor-type", "user"}, nil, audit.Query{Search: "inv", ActorType: "user"}},
	} {
		v := l
		if c.view != nil {
			v = c.view(l)
		}
		var want bytes.Buffer
		_, err := v.Export(ctx, &want, audit.ExportCSV, c.q)
		require.NoError(t, err)
		got := ok(t, append([]string{"export", "--db", fixture, "--format", "csv"}, c.flags...)...)
		require.Equal(t, want.String(), got, c.flags)

		want.Reset()
		n, err := v.Export(ctx, &want, audit.ExportJSONL, c.q)
		require.NoError(t, err)
		got = ok(t, append([]string{"export", "--db", fixture}, c.flags...)...) // JSON Lines by default
		wantLines := strings.Split(strings.TrimSuffix(want.String(), "\n"), "\n")
		gotLines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		require.Len(t, gotLines, int(n)+2, c.flags)
		require.Equal(t, wantLines[1:n+1], gotLines[1:n+1], c.flags)
		var wantHead, gotHead map[string]map[string]any
		require.NoError(t, json.Unmarshal([]byte(wantLines[0]), &wantHead))
		require.NoError(t, json.Unmarshal([]byte(gotLines[0]), &gotHead))
		delete(wantHead["audit_export"], "at")
		delete(gotHead["audit_export"], "at")
		require.Equal(t, wantHead, gotHead, c.flags)
		var wantEnd, gotEnd struct {
			Checkpoint string `json:"checkpoint"`
			Events     int64  `json:"events"`
		}
		require.NoError(t, json.Unmarshal([]byte(wantLines[n+1]), &wantEnd))
		require.NoError(t, json.Unmarshal([]byte(gotLines[n+1]), &gotEnd))
		require.Equal(t, n, gotEnd.Events)
		require.Equal(t, strings.Fields(wantEnd.Checkpoint)[:3], strings.Fields(gotEnd.Checkpoint)[:3], "the same seq and hash")
	}

	// To a file: the same bytes, mode 0600, nothing else left beside it;
	// an existing file is replaced.
	dir := t.TempDir()
	path := filepath.Join(dir, "export.csv")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	require.Empty(t, ok(t, "export", "--db", fixture, "--all-tenants", "--format", "csv", "-o", path))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, ok(t, "export", "--db", fixture, "--all-tenants", "--format", "csv"), string(raw))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)

	// An export that fails leaves no file, nor a part of one.
	r := run(t, "export", "--db", fixture, "--outcome", "maybe", "-o", filepath.Join(dir, "failed.csv"))
	require.Equal(t, 2, r.code)
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

// lines reads the lines of r into a channel, closed at the end.
func lines(r *bufio.Scanner) <-chan string {
	ch := make(chan string, 1000)
	go func() {
		defer close(ch)
		for r.Scan() {
			ch <- r.Text()
		}
	}()
	return ch
}

// next returns the next line, or fails the test after timeout.
func next(t *testing.T, ch <-chan string, timeout time.Duration) string {
	t.Helper()
	select {
	case line, ok := <-ch:
		require.True(t, ok, "the output ended")
		return line
	case <-time.After(timeout):
		t.Fatalf("no line within %v", timeout)
		return ""
	}
}

// startTail starts "audit tail" with args and returns its output lines.
func startTail(t *testing.T, args ...string) (*exec.Cmd, <-chan string, *bytes.Buffer) {
	t.Helper()
	cmd := execCommand(t, append([]string{"tail"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	return cmd, lines(bufio.NewScanner(stdout)), &stderr
}

// stopTail interrupts a tail as Ctrl-C does: it ends with exit code 0.
func stopTail(t *testing.T, cmd *exec.Cmd, out <-chan string, stderr *bytes.Buffer) {
	t.Helper()
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	for line := range out {
		t.Errorf("unexpected line after the events: %s", line)
	}
	require.NoError(t, cmd.Wait(), stderr.String())
	require.Equal(t, 0, cmd.ProcessState.ExitCode())
	require.Empty(t, stderr.String())
}

// TestTail: tail prints the events that this process (another one, to the
// command) records while it runs, in order, once each, those its filters
// select only, until SIGINT, when it exits with 0.
func TestTail(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, path := newLog(t)
	track := func(tenant, action string, i int) audit.Event {
		t.Helper()
		e, err := l.WithTenant(tenant).Track(ctx, audit.Ref{Type: "user", ID: fmt.Sprint(i)}, action, audit.Ref{Type: "doc", ID: "d"})
		require.NoError(t, err)
		return e
	}
	for i := range 5 {
		track("", "before.tail", i)
	}

	// From seq 3, as JSON, on the default tenant: the backlog, then what
	// is recorded meanwhile, in the default tenant only.
	cmd, out, stderr := startTail(t, "--db", path, "--from-seq", "3", "--json", "--poll", "20ms")
	for seq := int64(3); seq <= 5; seq++ {
		var e audit.Event
		require.NoError(t, json.Unmarshal([]byte(next(t, out, 10*time.Second)), &e))
		require.Equal(t, seq, e.Seq)
	}
	var want []int64
	for i := range 20 {
		tenant := []string{"", "acme"}[i%2]
		if e := track(tenant, "during.tail", i); tenant == "" {
			want = append(want, e.Seq)
		}
	}
	for _, seq := range want {
		var e audit.Event
		require.NoError(t, json.Unmarshal([]byte(next(t, out, 10*time.Second)), &e))
		require.Equal(t, seq, e.Seq)
		require.Equal(t, "during.tail", e.Action)
		require.Empty(t, e.Tenant)
	}
	// The file reads meanwhile.
	require.Contains(t, ok(t, "list", "--db", path, "--all-tenants", "--per-page", "1"), "25 events")
	stopTail(t, cmd, out, stderr)

	// From now on (the default), every tenant, one action, as table
	// lines. The first event recorded after the tail started says it is
	// following; the rest follow it in order.
	cmd, out, stderr = startTail(t, "--db", path, "--all-tenants", "--action", "tail.watched", "--poll", "20ms")
	var first string
	for deadline := time.Now().Add(20 * time.Second); first == "" && time.Now().Before(deadline); {
		track("globex", "tail.watched", 0)
		select {
		case first = <-out:
		case <-time.After(100 * time.Millisecond):
		}
	}
	require.NotEmpty(t, first, "the tail printed nothing")
	fields := strings.Fields(first)
	require.Equal(t, "globex", fields[1])
	require.Contains(t, first, "  tail.watched  user:0  doc:d  success  ")
	firstSeq := fields[0]
	// Events recorded before the first one seen, if the tail started
	// after them, are not printed: drain what was recorded until then.
	var seen []string
	for drained := false; !drained; {
		select {
		case line := <-out:
			seen = append(seen, line)
		case <-time.After(300 * time.Millisecond):
			drained = true
		}
	}
	want = nil
	for i := range 10 {
		want = append(want, track("acme", "tail.watched", i).Seq)
		track("acme", "tail.ignored", i)
	}
	for _, seq := range want {
		line := next(t, out, 10*time.Second)
		require.Equal(t, fmt.Sprint(seq), strings.Fields(line)[0], line)
		require.Contains(t, line, "  acme  ")
	}
	stopTail(t, cmd, out, stderr)
	t.Logf("first event seen: seq %s, then %d recorded before the tail took them", firstSeq, len(seen))

	// --last 3: the three newest of the default tenant first, oldest
	// first, then what follows.
	page, err := l.Recent(ctx, audit.Query{PerPage: 3})
	require.NoError(t, err)
	cmd, out, stderr = startTail(t, "--db", path, "--last", "3", "--poll", "20ms")
	for i := 2; i >= 0; i-- {
		require.Equal(t, fmt.Sprint(page.Entries[i].Seq), strings.Fields(next(t, out, 10*time.Second))[0])
	}
	e := track("", "after.last", 0)
	require.Equal(t, fmt.Sprint(e.Seq), strings.Fields(next(t, out, 10*time.Second))[0])
	stopTail(t, cmd, out, stderr)
}

// TestExportInterrupted: Ctrl-C stops an export; it exits with 130 and
// says so. (The export waits on a reader that has read one byte of it.)
func TestExportInterrupted(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	cmd := execCommand(t, "export", "--db", fixture, "--all-tenants")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	require.NoError(t, cmd.Start())
	require.NoError(t, w.Close())
	_, err = r.Read(make([]byte, 1))
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // the pipe fills up
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	// The export is blocked on the full pipe: give the process's signal
	// handling time to cancel its context before the pipe drains, or on a
	// busy machine the export can finish its last events first, and
	// rightly exit 0.
	time.Sleep(200 * time.Millisecond)
	_, err = io.Copy(io.Discard, r)
	require.NoError(t, err)
	require.Error(t, cmd.Wait())
	require.Equal(t, 130, cmd.ProcessState.ExitCode(), stderr.String())
	require.Equal(t, "audit export: interrupted\n", stderr.String())
}
