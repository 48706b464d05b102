package audit

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDurabilityPragmas checks what each durability level sets on the
// writer connection; only the writer commits, so only its setting matters.
func TestDurabilityPragmas(t *testing.T) {
	t.Parallel()
	for d, want := range map[Durability]int{DurabilityNormal: 1, DurabilityFull: 2} {
		s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "a.db"), SQLiteOptions{Durability: d})
		require.NoError(t, err)
		var got int
		require.NoError(t, s.wconn.GetContext(t.Context(), &got, `PRAGMA synchronous`))
		require.Equal(t, want, got)
		var mode string
		require.NoError(t, s.wconn.GetContext(t.Context(), &mode, `PRAGMA journal_mode`))
		require.Equal(t, "wal", mode)
		var ro int
		require.NoError(t, s.readers.GetContext(t.Context(), &ro, `PRAGMA query_only`))
		require.Equal(t, 1, ro, "readers are read-only")
		require.NoError(t, s.Close())
	}
}
