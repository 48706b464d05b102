package audittest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// writeChain records n events over two tenants, with metadata, targets and
// an idempotency key on some, and returns them in Seq order.
func writeChain(t *testing.T, l *audit.Logger, n int) []audit.Event {
	t.Helper()
	var out []audit.Event
	for i := range n {
		view := l
		if i%2 == 1 {
			view = l.WithTenant("tenant-b")
		}
		opts := []audit.TrackOption{audit.WithMeta("i", i)}
		if i%3 == 0 {
			opts = append(opts, audit.WithTargets(audit.Ref{Type: "project", ID: fmt.Sprint(i)}), audit.WithIdempotencyKey(fmt.Sprint("key-", i)))
		}
		e, err := view.Track(t.Context(), user{ID: int64(i % 4), Name: "U"}, fmt.Sprintf("chain.step%d", i%5), BillingAccount{ID: fmt.Sprint(i % 3)}, opts...)
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

func testHead(t *testing.T, newStore NewStore, _ Options) {
	l, s := setupStore(t, newStore)
	ctx := t.Context()
	seq, hash, err := s.Head(ctx)
	require.NoError(t, err)
	require.Zero(t, seq, "Store.Head: an empty log has Seq 0")
	require.Empty(t, hash, "Store.Head: an empty log has no hash")
	events := writeChain(t, l, 7)
	seq, hash, err = s.Head(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(7), seq, "Store.Head: the Seq of the newest event")
	require.Equal(t, events[6].Hash, hash, "Store.Head: the Hash of the newest event")
	cp, err := l.WithTenant("tenant-b").Checkpoint(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(7), cp.Seq, "Logger.Checkpoint: the head of the whole chain, whatever the view")
	require.Equal(t, events[6].Hash, cp.Hash, "Logger.Checkpoint: the hash of the head")
}

func testReadChain(t *testing.T, newStore NewStore, _ Options) {
	l, s := setupStore(t, newStore)
	ctx := t.Context()
	events := writeChain(t, l, 9)
	var seqs []int64
	err := s.ReadChain(ctx, 3, 6, func(ce audit.ChainEntry) error {
		require.Len(t, ce.Values, len(audit.ChainColumns), "Store.ReadChain: one value per ChainColumns entry")
		seq, ok := ce.Values[0].(int64)
		require.True(t, ok, "Store.ReadChain: seq as int64, as the driver returns an integer, got %T", ce.Values[0])
		e := events[seq-1]
		require.Equal(t, e.ID, ce.Values[1], "Store.ReadChain: text columns as strings holding what was written")
		require.Equal(t, e.Tenant, ce.Values[2], "Store.ReadChain: text columns as strings holding what was written")
		require.Equal(t, e.Hash, ce.Values[17], "Store.ReadChain: hash as the bytes written")
		require.Equal(t, e.PrevHash, ce.Values[16], "Store.ReadChain: prev_hash as the bytes written")
		seqs = append(seqs, seq)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []int64{3, 4, 5, 6}, seqs, "Store.ReadChain: every event from..to, inclusive, in Seq order, across tenants")

	stop := errors.New("stop")
	calls := 0
	err = s.ReadChain(ctx, 1, 9, func(audit.ChainEntry) error { calls++; return stop })
	require.ErrorIs(t, err, stop, "Store.ReadChain: returns the error fn returns")
	require.Equal(t, 1, calls, "Store.ReadChain: stops at the first error fn returns")

	err = s.ReadChain(ctx, 10, 20, func(audit.ChainEntry) error { calls++; return nil })
	require.NoError(t, err)
	require.Equal(t, 1, calls, "Store.ReadChain: a range past the head holds nothing")
}

func testVerifyAndCheckpoints(t *testing.T, newStore NewStore, _ Options) {
	l, _ := setupStore(t, newStore)
	ctx := t.Context()
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "Verify: an empty log is intact: %+v", rep)
	empty, err := l.Checkpoint(ctx)
	require.NoError(t, err)
	require.Zero(t, empty.Seq, "Checkpoint: Seq 0 for an empty log")

	writeChain(t, l, 12)
	cp, err := l.Checkpoint(ctx)
	require.NoError(t, err)
	for i := range 5 {
		_, err := l.WithTenant("tenant-c").Track(ctx, user{ID: int64(i)}, "chain.later", nil)
		require.NoError(t, err)
	}
	rep, err = l.Verify(ctx, empty, cp)
	require.NoError(t, err)
	require.True(t, rep.OK, "Verify: a log written through the Logger verifies, and extends its checkpoints: %+v", rep)
	require.Equal(t, int64(17), rep.Checked, "Verify: checks every event of every tenant")
	rep, err = l.WithTenant("tenant-b").Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "Verify through a view walks the whole chain: %+v", rep)
	require.Equal(t, int64(17), rep.Checked, "Verify through a view walks the whole chain")
}

func testAppendOnly(t *testing.T, newStore NewStore, o Options) {
	if o.Exec == nil {
		t.Skip("needs Options.Exec")
	}
	l, s := setupStore(t, newStore)
	ctx := t.Context()
	writeChain(t, l, 4)
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`UPDATE audit_events SET actor_name = ? WHERE seq = ?`, []any{"Mallory", 2}},
		{`DELETE FROM audit_events WHERE seq = ?`, []any{4}},
		{`DELETE FROM audit_events`, nil},
	} {
		err := o.Exec(t, s, q.query, q.args...)
		require.Error(t, err, "append-only: the database refuses %s", q.query)
	}
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "append-only: a refused change leaves the log intact: %+v", rep)
	require.Equal(t, int64(4), rep.Checked)
}

func testTampering(t *testing.T, newStore NewStore, o Options) {
	if o.Tamper == nil {
		t.Skip("needs Options.Tamper")
	}
	for _, c := range []struct {
		name     string
		query    string
		args     []any
		firstBad int64 // 0: a derived table disagrees
		reason   string
		withCP   bool // verify against a checkpoint of the head
	}{
		{"field", `UPDATE audit_events SET actor_name = ? WHERE seq = ?`, []any{"Mallory", 3}, 3, "altered", false},
		{"tenant", `UPDATE audit_events SET tenant = ? WHERE seq = ?`, []any{"tenant-b", 5}, 5, "altered", false},
		{"time", `UPDATE audit_events SET occurred_at = occurred_at + 1 WHERE seq = ?`, []any{2}, 2, "altered", false},
		{"non-canonical metadata", `UPDATE audit_events SET metadata = ? WHERE seq = ?`, []any{`{ "i": 3 }`, 4}, 4, "malformed", false},
		{"empty string for NULL", `UPDATE audit_events SET idempotency_key = ? WHERE seq = ?`, []any{"", 2}, 2, "malformed", false},
		{"removed", `DELETE FROM audit_events WHERE seq = ?`, []any{4}, 4, "missing", false},
		{"truncated", `DELETE FROM audit_events WHERE seq >= ?`, []any{7}, 7, "truncated", true},
		{"counter", `UPDATE audit_counts SET n = n + 1 WHERE kind = 'total'`, nil, 0, "derived", false},
		{"catalogue", `DELETE FROM audit_action_terms WHERE seg = 1`, nil, 0, "derived", false},
		{"ref counter", `UPDATE audit_refs SET n = n + 1 WHERE kind = 'actor' AND id = ?`, []any{"2"}, 0, "derived", false},
		{"failure counter", `INSERT INTO audit_counts (tenant, kind, key, n) VALUES (?, ?, ?, ?)`, []any{"tenant-b", "failure", "", 1}, 0, "derived", false},
		{"target row", `DELETE FROM audit_targets WHERE seq = ?`, []any{4}, 0, "derived", false},
		{"stray target row", `INSERT INTO audit_targets (tenant, id, type, seq) VALUES (?, ?, ?, ?)`, []any{"", "3", "project", 5}, 0, "derived", false},
		{"ref term", `DELETE FROM audit_ref_terms WHERE kind = 'actor'`, nil, 0, "derived", false},
		{"stray ref term", `INSERT INTO audit_ref_terms (tenant, term, kind, id, type) VALUES (?, ?, ?, ?, ?)`, []any{"", "ghost", "actor", "nobody", "user"}, 0, "derived", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, s := setupStore(t, newStore)
			ctx := t.Context()
			writeChain(t, l, 8)
			cp, err := l.Checkpoint(ctx)
			require.NoError(t, err)
			o.Tamper(t, s, c.query, c.args...)
			var against []audit.Checkpoint
			if c.withCP {
				against = append(against, cp)
			}
			rep, err := l.Verify(ctx, against...)
			require.NoError(t, err, "Verify: tampering is reported in the report, not as an error")
			require.False(t, rep.OK, "Verify: %s must be caught", c.name)
			require.Equal(t, c.firstBad, rep.FirstBad, "Verify: FirstBad names the first event that fails (%s)", rep.Reason)
			require.True(t, strings.HasPrefix(rep.Reason, c.reason), "Verify: the reason says %q: %s", c.reason, rep.Reason)
		})
	}
}
