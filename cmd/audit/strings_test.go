package main_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/audittest"
)

// unsafeRune reports whether r must not reach a terminal as it is: it
// moves the cursor, ends the line, or reorders the text around it.
func unsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f', r == '\u061c':
		return true
	}
	return false
}

// requireSafe fails when a line of out holds a rune that unsafeRune names.
func requireSafe(t *testing.T, out string) {
	t.Helper()
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		for _, r := range line {
			require.False(t, unsafeRune(r), "line %d holds %U: %q", i+1, r, line)
		}
	}
}

// naughtyEvent is an event with s in its tenant (one in three), actor,
// resource, target and metadata.
func naughtyEvent(i int, s string) audit.Event {
	e := audit.Event{
		Action:   fmt.Sprintf("naughty.%d", i),
		Actor:    audit.Ref{Type: s, ID: s, Name: s},
		Resource: audit.Ref{Type: "doc", ID: s, Name: s},
		Targets:  []audit.Ref{{Type: "folder", ID: s, Name: s}},
		Metadata: map[string]any{"value": s},
	}
	if i%3 == 0 {
		e.Tenant = s
	}
	return e
}

// TestNaughtyStrings: the conformance suite's hard strings and the Big List
// of Naughty Strings, in the tenant, actor, resource, targets and metadata
// of events, print without breaking the table, the tail or get: one line
// per event, control and reordering characters shown escaped; --json
// gives them back exactly; as filter values they select what the
// library selects.
func TestNaughtyStrings(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	naughty := audittest.LoadNaughtyStrings(t)
	l, path := newLog(t)
	events := make([]audit.Event, len(naughty))
	errs := make([]error, len(naughty))
	var wg sync.WaitGroup
	for w := range 8 { // writers sharing transactions
		wg.Go(func() {
			for i := w; i < len(naughty); i += 8 {
				events[i], errs[i] = l.Record(ctx, naughtyEvent(i, naughty[i]))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "%q", naughty[i])
	}
	require.NoError(t, l.Close())
	slices.SortFunc(events, func(a, b audit.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	t.Logf("%d strings", len(naughty))

	// The table: a header, one line per event, whose first cell is its seq
	// and last its id; the footer.
	out := ok(t, "list", "--db", path, "--all-tenants", "--per-page", "1000")
	requireSafe(t, out)
	rows := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	n, footer := len(events), 1
	if n > 1000 {
		n, footer = 1000, 2 // the totals, and the cursor of the next page
	}
	require.Len(t, rows, 1+n+footer)
	for i := range n {
		e := events[len(events)-1-i]
		fields := strings.Fields(rows[1+i])
		require.Equal(t, fmt.Sprint(e.Seq), fields[0], rows[1+i])
		require.Equal(t, e.ID, fields[len(fields)-1], rows[1+i])
	}
	for _, shown := range []string{`\x1b[31mred\x1b[0m`, `line\nbreak`, `cr\rlf\r\n`, `nul\x00inside`, `\u202eevil override\u202c`,
		`line\u2028separator`, `tab\tinside`, `\x7f`, `\u0085`, `\\ud800`} {
		require.Contains(t, out, shown)
	}
	require.Contains(t, out, strings.Repeat("x", 47)+"…", "long values are cut")

	// JSON gives every string back exactly.
	var page struct {
		Entries []audit.Event `json:"entries"`
	}
	out = ok(t, "list", "--db", path, "--all-tenants", "--per-page", "1000", "--json")
	requireSafe(t, out)
	require.NoError(t, json.Unmarshal([]byte(out), &page))
	require.Len(t, page.Entries, n)
	for i, got := range page.Entries {
		want := events[len(events)-1-i]
		require.Equal(t, want.Actor, got.Actor)
		require.Equal(t, want.Tenant, got.Tenant)
		require.Equal(t, want.Targets, got.Targets)
	}

	// get: one line per field, whatever the values (on the first ten
	// events with characters to escape).
	shown := 0
	for _, e := range events {
		if !strings.ContainsFunc(e.Actor.ID, unsafeRune) || shown == 10 {
			continue
		}
		shown++
		out := ok(t, "get", "--db", path, "--all-tenants", e.ID)
		requireSafe(t, out)
		require.Len(t, strings.Split(strings.TrimSuffix(out, "\n"), "\n"), 16, out) // metadata takes three
	}

	// tail: one line per event, as text or JSON.
	cmd, lines, stderr := startTail(t, "--db", path, "--all-tenants", "--from-seq", "1")
	for _, e := range events {
		line := next(t, lines, 10*time.Second)
		requireSafe(t, line)
		fields := strings.Fields(line)
		require.Equal(t, fmt.Sprint(e.Seq), fields[0], line)
		require.Equal(t, e.ID, fields[len(fields)-1], line)
	}
	stopTail(t, cmd, lines, stderr)
	cmd, lines, stderr = startTail(t, "--db", path, "--all-tenants", "--from-seq", "1", "--json")
	for _, e := range events {
		line := next(t, lines, 10*time.Second)
		requireSafe(t, line)
		var got audit.Event
		require.NoError(t, json.Unmarshal([]byte(line), &got))
		require.Equal(t, e.Actor, got.Actor)
	}
	stopTail(t, cmd, lines, stderr)

	// As filter values: every fourth hard string (a run of the command
	// each), but those with NUL, which no argument holds.
	all := func() *audit.Logger {
		r, err := audit.Open(ctx, path, audit.WithReadOnly())
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, r.Close()) })
		return r.AllTenants()
	}()
	for i, s := range audittest.HardStrings() {
		if i%4 != 0 || strings.ContainsRune(s, 0) {
			continue
		}
		want, err := all.Recent(ctx, audit.Query{ActorID: s, PerPage: 1000})
		require.NoError(t, err)
		var got pageJSON
		require.NoError(t, json.Unmarshal([]byte(ok(t, "list", "--db", path, "--all-tenants", "--json", "--per-page", "1000", "--actor", s)), &got), "%q", s)
		require.Equal(t, want.TotalCount, got.TotalCount, "%q", s)
		require.NotZero(t, got.TotalCount, "%q", s)
		for i, e := range want.Entries {
			require.Equal(t, e.ID, got.Entries[i].ID)
		}
	}
}
