package audit_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportGraph pins the modules the root package depends on: the SQLite
// driver and sqlx with what they need, nothing else. The PostgreSQL driver,
// watermill and the browser-test tooling live in their own modules and must
// never reach an application that imports only the root package.
func TestImportGraph(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.CommandContext(t.Context(), goTool, "list", "-deps",
		"-f", "{{if not .Standard}}{{with .Module}}{{.Path}}{{end}}{{end}}", ".").CombinedOutput()
	require.NoError(t, err, string(out))
	var modules []string
	for _, m := range strings.Fields(string(out)) {
		if !slices.Contains(modules, m) {
			modules = append(modules, m)
		}
	}
	slices.Sort(modules)
	require.Equal(t, []string{
		"github.com/dustin/go-humanize",
		"github.com/google/uuid",
		"github.com/jmoiron/sqlx",
		"github.com/remyoudompheng/bigfft",
		"github.com/trailkit/audit",
		"golang.org/x/sys",
		"modernc.org/libc",
		"modernc.org/mathutil",
		"modernc.org/memory",
		"modernc.org/sqlite",
	}, modules, "the root package's module dependencies changed")
	for _, banned := range []string{"pgx", "watermill", "chromedp", "lib/pq"} {
		require.NotContains(t, string(out), banned)
	}
}
