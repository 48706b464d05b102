package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/audittest"
)

// exportLog writes events across two tenants, with hard strings in every
// field, an origin on some, and returns the logger.
func exportLog(t *testing.T, opts ...audit.Option) *audit.Logger {
	t.Helper()
	l, _ := setup(t, opts...)
	ctx := t.Context()
	hard := audittest.HardStrings()
	for i := range 60 {
		s := hard[i%len(hard)]
		ctx := ctx
		if i%3 == 0 {
			ctx = audit.ContextWithOrigin(ctx, audit.Origin{IP: "203.0.113.9", UserAgent: "curl/8 " + s, RequestID: fmt.Sprint("req-", i)})
		}
		_, err := l.WithTenant([]string{"", "acme"}[i%2]).Track(ctx,
			audit.Ref{Type: "user", ID: fmt.Sprint(i % 4), Name: s},
			[]string{"=cmd|' /C calc'!A0", "billing.invoice.paid", "+sum(1)", "-2", "@at", "=HYPERLINK(1)"}[i%6],
			audit.Ref{Type: "doc", ID: s},
			audit.WithTargets(audit.Ref{Type: "account", ID: "acct_1", Name: s}),
			audit.WithMeta("note", s), audit.WithMeta("amount", 4200), audit.WithMeta("ratio", json.Number("1.50")))
		require.NoError(t, err)
	}
	return l
}

func TestExportCSV(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := exportLog(t)
	all := l.AllTenants()
	var buf bytes.Buffer
	n, err := all.Export(ctx, &buf, audit.ExportCSV, audit.Query{Order: audit.OldestFirst})
	require.NoError(t, err)
	require.Equal(t, int64(60), n)
	records, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	require.NoError(t, err, "RFC 4180: every quote, comma and line break of the hard strings reads back")
	require.Equal(t, audit.CSVColumns, records[0])
	require.Len(t, records, 61)
	var events []audit.Event
	for e, err := range all.All(ctx, audit.Query{Order: audit.OldestFirst}) {
		require.NoError(t, err)
		events = append(events, e)
	}
	col := func(name string) int {
		for i, c := range audit.CSVColumns {
			if c == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	// encoding/csv's reader turns a quoted "\r\n" into "\n"; the file has
	// the bytes as they are.
	crlf := strings.NewReplacer("\r\n", "\n")
	unformula := func(cell string) string {
		if strings.HasPrefix(cell, "'") && len(cell) > 1 && strings.ContainsRune("=+-@\t\r", rune(cell[1])) {
			return cell[1:]
		}
		return cell
	}
	for i, rec := range records[1:] {
		e := events[i]
		require.Equal(t, fmt.Sprint(e.Seq), rec[col("seq")])
		require.Equal(t, e.Tenant, rec[col("tenant")])
		require.Equal(t, crlf.Replace(e.Actor.Name), unformula(rec[col("actor_name")]))
		require.Equal(t, crlf.Replace(e.Resource.ID), unformula(rec[col("resource_id")]))
		require.Equal(t, crlf.Replace(e.Origin.UserAgent), unformula(rec[col("origin_user_agent")]))
		require.Equal(t, e.OccurredAt.Format(time.RFC3339Nano), rec[col("occurred_at")])
		// No cell starts as a formula.
		for j, cell := range rec {
			if cell != "" {
				require.NotContains(t, "=+-@\t\r", cell[:1], "row %d column %s: %q", i, audit.CSVColumns[j], cell)
			}
		}
		action := rec[col("action")]
		require.Equal(t, e.Action, unformula(action))
		if strings.ContainsRune("=+-@\t", rune(e.Action[0])) {
			require.Equal(t, "'"+e.Action, action, "a formula is neutralised")
		}
		var meta map[string]any
		d := json.NewDecoder(strings.NewReader(unformula(rec[col("metadata")])))
		d.UseNumber()
		require.NoError(t, d.Decode(&meta))
		require.Equal(t, len(e.Metadata), len(meta))
		require.Equal(t, e.Metadata["amount"], meta["amount"])
	}

	// Filters and views narrow it as they narrow pages.
	buf.Reset()
	n, err = l.WithTenant("acme").Export(ctx, &buf, audit.ExportCSV, audit.Query{Action: "billing.invoice.paid"})
	require.NoError(t, err)
	p, err := l.WithTenant("acme").Recent(ctx, audit.Query{Action: "billing.invoice.paid"})
	require.NoError(t, err)
	require.Equal(t, int64(p.TotalCount), n)
	_, err = l.Export(ctx, &buf, audit.ExportFormat(9), audit.Query{})
	require.ErrorIs(t, err, audit.ErrInvalidQuery)
}

// exportJSONL exports q from l and returns the lines.
func exportJSONL(t *testing.T, l *audit.Logger, q audit.Query) []string {
	t.Helper()
	var buf bytes.Buffer
	_, err := l.Export(t.Context(), &buf, audit.ExportJSONL, q)
	require.NoError(t, err)
	var lines []string
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func verifyLines(lines []string, pub ed25519.PublicKey) (audit.VerifyReport, error) {
	return audit.VerifyExport(strings.NewReader(strings.Join(lines, "\n")+"\n"), pub)
}

func TestExportJSONLVerifiesOffline(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	l := exportLog(t, audit.WithCheckpointKey(priv))
	all := l.AllTenants()

	lines := exportJSONL(t, all, audit.Query{Order: audit.OldestFirst})
	require.Len(t, lines, 62, "the header, 60 events and the closing line")
	require.Contains(t, lines[0], `"audit_export":{"version":1,"filtered":false`)
	// Every line but the first and the last is an event, as stored.
	var first audit.Event
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &first))
	stored, err := all.Get(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, stored.Hash, first.Hash)
	require.Equal(t, stored.Origin, first.Origin)
	rep, err := verifyLines(lines, pub)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 60, OK: true}, rep)

	// Newest first, and a seq range, verify too.
	rep, err = verifyLines(exportJSONL(t, all, audit.Query{}), pub)
	require.NoError(t, err)
	require.True(t, rep.OK, rep.Reason)
	rep, err = verifyLines(exportJSONL(t, all, audit.Query{FromSeq: 10, ToSeq: 30}), pub)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 21, OK: true}, rep)

	// Tampering is named by seq and line.
	tamper := func(i int, from, to string) []string {
		out := append([]string(nil), lines...)
		require.Contains(t, out[i], from)
		out[i] = strings.Replace(out[i], from, to, 1)
		return out
	}
	for _, c := range []struct {
		name   string
		lines  []string
		seq    int64
		reason string
	}{
		{"changed action", tamper(5, `"action":"@at"`, `"action":"@bt"`), 5, "line 6: altered"},
		{"changed amount", tamper(8, `"amount":4200`, `"amount":4201`), 8, "line 9: altered"},
		{"changed number form", tamper(8, `"ratio":1.50`, `"ratio":1.5`), 8, "line 9: altered"},
		{"changed origin", tamper(10, `"ip":"203.0.113.9"`, `"ip":"198.51.100.1"`), 10, "line 11: altered"},
		{"removed event", append(append([]string(nil), lines[:21]...), lines[22:]...), 22, "line 22: seq 22 follows seq 20"},
		{"cut short", lines[:61], 61, "no closing checkpoint"},
		{"events removed from the end", append(append([]string(nil), lines[:59]...), lines[61]), 58, "holds 58"},
	} {
		rep, err := verifyLines(c.lines, pub)
		require.NoError(t, err, c.name)
		require.False(t, rep.OK, c.name)
		require.Equal(t, c.seq, rep.FirstBad, "%s: %s", c.name, rep.Reason)
		require.Contains(t, rep.Reason, c.reason, c.name)
	}

	// Only the configured key's checkpoint is trusted.
	other, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	_, err = verifyLines(lines, other)
	require.ErrorIs(t, err, audit.ErrInvalidCheckpoint)

	// A filtered export cannot be checked link by link: refused, clearly.
	for name, q := range map[string]struct {
		l *audit.Logger
		q audit.Query
	}{
		"a tenant's view":         {l.WithTenant("acme"), audit.Query{}},
		"the default tenant only": {l, audit.Query{}},
		"an action filter":        {all, audit.Query{Action: "billing.invoice.paid"}},
		"a time filter":           {all, audit.Query{Since: time.Now().Add(-time.Hour)}},
		"a tenant across tenants": {all, audit.Query{Tenant: "acme"}},
	} {
		_, err := verifyLines(exportJSONL(t, q.l, q.q), pub)
		require.ErrorIs(t, err, audit.ErrUnverifiableExport, name)
		require.ErrorContains(t, err, "filtered", name)
	}

	// The root logger of a log with one tenant exports the whole chain.
	single, _ := setup(t)
	for i := range 5 {
		_, err := single.Track(ctx, nil, "doc.created", audit.Ref{ID: fmt.Sprint(i)})
		require.NoError(t, err)
	}
	rep, err = verifyLines(exportJSONL(t, single, audit.Query{}), nil)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: 5, OK: true}, rep)
	_, err = audit.VerifyExport(strings.NewReader("not json\n"), nil)
	require.ErrorIs(t, err, audit.ErrUnverifiableExport)
	bad := append([]string{lines[0], "not json"}, lines[1:]...)
	rep, err = verifyLines(bad, pub)
	require.NoError(t, err)
	require.False(t, rep.OK)
	require.Contains(t, rep.Reason, "line 2: not an event")
}

// cancelOnWrite cancels a context on its first write.
type cancelOnWrite struct {
	cancel context.CancelFunc
	writes int
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.writes++
	w.cancel()
	return len(p), nil
}

// TestExportStopsWithinAChunk: once ctx ends, Export stops at the next
// event, not at the end of the chunk it is writing (the chunk may take long
// to write to a slow reader, such as a pipe nobody drains).
func TestExportStopsWithinAChunk(t *testing.T) {
	l, _ := setup(t)
	ctx := t.Context()
	const events = 300 // one chunk; about 1 KB each, past the export's 64 KiB buffer
	for i := range events {
		_, err := l.Track(ctx, audit.Ref{Type: "user", ID: "u"}, "doc.viewed", audit.Ref{Type: "doc", ID: fmt.Sprint(i)},
			audit.WithMeta("note", strings.Repeat("x", 1000)))
		require.NoError(t, err)
	}
	for _, format := range []audit.ExportFormat{audit.ExportJSONL, audit.ExportCSV} {
		ectx, cancel := context.WithCancel(ctx)
		w := &cancelOnWrite{cancel: cancel}
		n, err := l.Export(ectx, w, format, audit.Query{})
		cancel()
		require.ErrorIs(t, err, context.Canceled, "format %d", format)
		require.Equal(t, 1, w.writes, "format %d: the export went on writing after ctx ended", format)
		require.Less(t, n, int64(events), "format %d", format)
	}
}
