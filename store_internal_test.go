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
		s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "a.db"), WithDurability(d))
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

// TestReadChainPlan: Verify reads the chain by a range of the primary key.
// (The plans of every other query are pinned in internal/sqlcore.)
func TestReadChainPlan(t *testing.T) {
	t.Parallel()
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "a.db"))
	require.NoError(t, err)
	defer s.Close()
	var id, parent, unused int
	var detail string
	require.NoError(t, s.readers.QueryRowxContext(t.Context(), "EXPLAIN QUERY PLAN "+sqlReadChain, 1, 2).Scan(&id, &parent, &unused, &detail))
	require.Equal(t, "SEARCH audit_events USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)", detail)
}

// BenchmarkCursor measures making and reading a page cursor.
func BenchmarkCursor(b *testing.B) {
	f := Filter{Tenant: "acme", Action: "billing.invoice.paid", ActorID: "42"}
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			_ = encodeCursor(binding(f, viewTenant, 50), 123456789, 1000)
		}
	})
	c := encodeCursor(binding(f, viewTenant, 50), 123456789, 1000)
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := decodeCursor(c, binding(f, viewTenant, 50)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
