package audit

import (
	"path/filepath"
	"strings"
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

// TestQueryPlans pins the index every query shape uses, so that a change of
// schema or SQL cannot quietly turn a lookup into a scan of the log.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "a.db"), SQLiteOptions{})
	require.NoError(t, err)
	defer s.Close()
	plan := func(query string, args ...any) string {
		rows, err := s.readers.QueryxContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	list := func(f Filter, actions ...string) string {
		var ac []ActionCount
		for _, a := range actions {
			ac = append(ac, ActionCount{Action: a})
		}
		q, args := listSQL(f, ac, 100, 0, 51)
		return plan(q, args...)
	}
	for _, c := range []struct {
		name, plan, want string
	}{
		{"get", plan(sqlGet, "id", "t"), "USING INDEX audit_events_id (id=?)"},
		{"idempotency", plan(sqlByKey, "t", "k"), "USING INDEX audit_events_idempotency (tenant=? AND idempotency_key=?)"},
		{"head", plan(sqlHead), "SCAN audit_events"},
		{"recent", list(Filter{Tenant: "t"}), "USING INDEX audit_events_tenant (tenant=? AND rowid<?)"},
		{"action", list(Filter{Tenant: "t", Action: "a"}), "USING INDEX audit_events_action (tenant=? AND action=? AND rowid<?)"},
		{"actor", list(Filter{Tenant: "t", ActorID: "a"}), "USING INDEX audit_events_actor (tenant=? AND actor_id=? AND rowid<?)"},
		{"resource", list(Filter{Tenant: "t", ResourceID: "r"}), "USING INDEX audit_events_resource (tenant=? AND resource_id=? AND rowid<?)"},
		{"search", list(Filter{Tenant: "t", Search: "a"}, "a.b", "a.c"), "USING INDEX audit_events_action (tenant=? AND action=? AND rowid<?)"},
		{"chain", plan(sqlReadChain, 1, 2), "USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"},
	} {
		require.Contains(t, c.plan, c.want, c.name)
		if c.name != "head" {
			require.NotRegexp(t, `SCAN audit_events($|;| )`, c.plan, c.name)
		}
	}
}

// BenchmarkCursor measures making and reading a page cursor.
func BenchmarkCursor(b *testing.B) {
	f := Filter{Tenant: "acme", Action: "billing.invoice.paid", ActorID: "42"}
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			_ = encodeCursor(f.binding(50), 123456789, 1000)
		}
	})
	c := encodeCursor(f.binding(50), 123456789, 1000)
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := decodeCursor(c, f.binding(50)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
