package main_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// startServe starts "audit serve" with args and returns the URL it serves
// at, once it says so, and the running command's wait function.
func startServe(t *testing.T, args ...string) (url string, stop func() (int, string)) {
	t.Helper()
	cmd := execCommand(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(stdout)
	serving := regexp.MustCompile(`^serving .* at (http://127\.0\.0\.1:\d+/) \(Ctrl-C to stop\)$`)
	for lines.Scan() {
		if m := serving.FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
			break
		}
	}
	require.NotEmpty(t, url, "audit serve never said where it serves; stderr: %s", stderr.String())
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return url, func() (int, string) {
		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("audit serve did not stop within 20 s of Ctrl-C")
		}
		return cmd.ProcessState.ExitCode(), stderr.String()
	}
}

// getPage gets path under url and decodes the JSON page of events.
func getPage(t *testing.T, url string) audit.Page {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", url, body)
	var p audit.Page
	require.NoError(t, json.Unmarshal(body, &p), "%s", body)
	return p
}

// TestServeDemo: "audit serve --demo" writes a demo log, serves its admin
// page and API on the address it prints, keeps adding events, and stops on
// Ctrl-C with 0.
func TestServeDemo(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "demo.db")
	url, stop := startServe(t, "--demo", "--db", path, "--demo-events", "300", "--demo-every", "50ms")

	first := getPage(t, url+"api/events?per_page=5")
	require.GreaterOrEqual(t, first.TotalCount, 300, "the seeded events")
	require.Len(t, first.Entries, 5)
	require.Eventually(t, func() bool {
		return getPage(t, url+"api/events?per_page=1").TotalCount > first.TotalCount
	}, 15*time.Second, 50*time.Millisecond, "the demo keeps receiving events")

	resp, err := http.Get(url)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")

	code, stderr := stop()
	require.Equal(t, 0, code, stderr)
	require.Empty(t, stderr)

	// What it wrote is a log that verifies.
	out := ok(t, "verify", "--db", path)
	require.Contains(t, out, "OK")
}

// TestServeFile: "audit serve" on a log serves it read-only, the tenant
// flags choose the view, and the operator's endpoints are off unless
// --operator.
func TestServeFile(t *testing.T) {
	t.Parallel()
	before, err := os.ReadFile(fixture)
	require.NoError(t, err)
	l := openFixture(t)
	want, err := l.WithTenant("acme").Recent(t.Context(), audit.Query{PerPage: 3})
	require.NoError(t, err)

	url, stop := startServe(t, "--db", fixture, "--tenant", "acme")
	got := getPage(t, url+"api/events?per_page=3")
	require.Equal(t, want.TotalCount, got.TotalCount)
	require.Equal(t, want.Entries[0].ID, got.Entries[0].ID)
	resp, err := http.Get(url + "api/verify")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "api/verify without --operator")
	code, stderr := stop()
	require.Equal(t, 0, code, stderr)

	url, stop = startServe(t, "--db", fixture, "--all-tenants", "--operator")
	all := getPage(t, url+"api/events?per_page=1")
	require.Equal(t, fixtureEvents, all.TotalCount)
	resp, err = http.Get(url + "api/verify")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "api/verify with --operator")
	code, stderr = stop()
	require.Equal(t, 0, code, stderr)

	after, err := os.ReadFile(fixture)
	require.NoError(t, err)
	require.Equal(t, before, after, "serve wrote to the file it serves")
}

// TestServeUsage: mistakes in serve's command line exit with 2 and say
// what is wrong, before anything is opened or served.
func TestServeUsage(t *testing.T) {
	t.Parallel()
	existing := filepath.Join(t.TempDir(), "exists.db")
	require.NoError(t, os.WriteFile(existing, nil, 0o600))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--db", fixture, "--demo-events", "10"}, "need --demo"},
		{[]string{"serve", "--demo", "--db", existing}, "exists"},
		{[]string{"serve", "--demo", "--demo-every", "0s"}, "positive duration"},
		{[]string{"serve", "--db", fixture, "--tenant", "acme", "--all-tenants"}, "give one"},
		{[]string{"serve"}, "no log file"},
		{[]string{"serve", "--db", fixture, "stray"}, "unexpected argument"},
	} {
		r := run(t, c.args...)
		require.Equal(t, 2, r.code, "%v: %s", c.args, r.stderr)
		require.Contains(t, r.stderr, c.want, c.args)
	}
}
