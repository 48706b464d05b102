package audit_test

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// requireNothingStored checks that the log of l holds exactly n events.
func requireTotal(t *testing.T, l *audit.Logger, n int) {
	t.Helper()
	p, err := l.Recent(t.Context(), audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.Equal(t, n, p.TotalCount)
}

// allocated returns the bytes the process allocates while f runs: the
// bytes f allocates, when no other test runs meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestEventSizeCap(t *testing.T) {
	// Not parallel: allocated reads the process's allocation counter,
	// which tests running alongside would add to.
	ctx := t.Context()
	l, _ := setup(t)

	// 1,000 targets of three 4 KiB fields: 12 MB of fields, refused
	// before it is encoded.
	field := strings.Repeat("<", audit.MaxFieldBytes)
	targets := make([]any, audit.MaxTargets)
	for i := range targets {
		targets[i] = audit.Ref{Type: field, ID: field, Name: field}
	}
	var err error
	n := allocated(func() { _, err = l.Track(ctx, nil, "doc.shared", nil, audit.WithTargets(targets...)) })
	require.ErrorIs(t, err, audit.ErrInvalidEvent)
	require.ErrorContains(t, err, "more than 262144 bytes")
	require.Less(t, n, uint64(4<<20), "refusing costs work in proportion to the cap")

	// Just under the default cap is accepted, just over is not: the cap is
	// on the whole encoded event.
	big := make([]any, 0, 70)
	for range 60 {
		big = append(big, audit.Ref{ID: strings.Repeat("x", 4000)})
	}
	_, err = l.Track(ctx, nil, "doc.shared", nil, audit.WithTargets(big...))
	require.NoError(t, err)
	for range 6 {
		big = append(big, audit.Ref{ID: strings.Repeat("x", 4000)})
	}
	_, err = l.Track(ctx, nil, "doc.shared", nil, audit.WithTargets(big...))
	require.ErrorIs(t, err, audit.ErrInvalidEvent)

	// Configurable.
	small, _ := setup(t, audit.WithMaxEventBytes(1000), audit.WithMaxMetadataBytes(1000))
	_, err = small.Track(ctx, nil, "doc.shared", nil, audit.WithMeta("note", strings.Repeat("n", 500)))
	require.NoError(t, err)
	_, err = small.Track(ctx, nil, "doc.shared", nil, audit.WithMeta("note", strings.Repeat("n", 1000)))
	require.ErrorIs(t, err, audit.ErrInvalidEvent)
	require.ErrorContains(t, err, "more than 1000")
	requireTotal(t, small, 1)
}

func TestStoredJSONIsNotHTMLEscaped(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, path := setup(t)
	const html = `<script>alert("x") & 'y'</script>`
	e, err := l.Track(ctx, nil, "doc.shared", nil, audit.WithTargets(audit.Ref{Type: "<t>", ID: "&1"}), audit.WithMeta("note", html))
	require.NoError(t, err)
	require.Equal(t, html, e.Metadata["note"])
	db := openAppDB(t, path)
	var targets, meta string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT targets, metadata FROM audit_events WHERE id = ?`, e.ID).Scan(&targets, &meta))
	require.Equal(t, `[{"type":"<t>","id":"&1"}]`, targets)
	require.Equal(t, `{"note":"<script>alert(\"x\") & 'y'</script>"}`, meta)
}

// explode returns metadata whose encoding doubles with every level: each
// level holds the level below twice.
func explode(levels int) map[string]any {
	m := map[string]any{"leaf": strings.Repeat("x", 64)}
	for range levels {
		m = map[string]any{"a": m, "b": m}
	}
	return m
}

func TestMetadataRefusedWithBoundedWork(t *testing.T) {
	// Not parallel: allocated reads the process's allocation counter,
	// which tests running alongside would add to.
	ctx := t.Context()
	l, _ := setup(t)

	// 2^40 leaves once encoded: refused after work in proportion to the
	// cap (the library used to encode it all first: ~40 s, 9 GB).
	var err error
	n := allocated(func() { _, err = l.Track(ctx, nil, "doc.shared", nil, audit.WithMetadata(explode(40))) })
	require.ErrorIs(t, err, audit.ErrInvalidEvent)
	require.ErrorContains(t, err, "more than 65536 bytes")
	require.Less(t, n, uint64(16<<20))

	// A map with a million keys: the same. (Record, not Track: WithMetadata
	// copies the caller's map, a cost the caller already paid building it.)
	wide := make(map[string]any, 1_000_000)
	for i := range 1_000_000 {
		wide[strings.Repeat("k", i%7)+string(rune('a'+i%26))+string(rune(0x4e00+i))] = i
	}
	n = allocated(func() { _, err = l.Record(ctx, audit.Event{Action: "doc.shared", Metadata: wide}) })
	require.ErrorIs(t, err, audit.ErrInvalidEvent)
	require.Less(t, n, uint64(16<<20))

	// A cycle is refused, not followed.
	cycle := map[string]any{"k": 1}
	cycle["self"] = cycle
	_, err = l.Track(ctx, nil, "doc.shared", nil, audit.WithMetadata(cycle))
	require.ErrorIs(t, err, audit.ErrInvalidEvent)

	// Depth: MaxMetadataDepth levels of objects and arrays pass, one more
	// does not.
	nest := func(levels int) map[string]any {
		var v any = "bottom"
		for i := 1; i < levels; i++ {
			if i%2 == 0 {
				v = []any{v}
			} else {
				v = map[string]any{"d": v}
			}
		}
		return map[string]any{"top": v}
	}
	e, err := l.Track(ctx, nil, "doc.shared", nil, audit.WithMetadata(nest(audit.MaxMetadataDepth)))
	require.NoError(t, err)
	got, err := l.Get(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, e.Metadata, got.Metadata)
	_, err = l.Track(ctx, nil, "doc.shared", nil, audit.WithMetadata(nest(audit.MaxMetadataDepth+1)))
	require.ErrorIs(t, err, audit.ErrInvalidEvent)
	require.ErrorContains(t, err, "deeper than 64 levels")
	requireTotal(t, l, 1)
}

// badText is an encoding.TextMarshaler that writes invalid UTF-8.
type badText struct{}

func (badText) MarshalText() ([]byte, error) { return []byte("bad \xff text"), nil }

// badKey is a map key type whose text is invalid UTF-8.
type badKey int

func (badKey) MarshalText() ([]byte, error) { return []byte("\xfe"), nil }

// badJSON is a json.Marshaler that writes a string of invalid UTF-8.
type badJSON struct{}

func (badJSON) MarshalJSON() ([]byte, error) { return []byte("\"\xff\""), nil }

// ptrText is an encoding.TextMarshaler on its pointer only: encoding/json
// calls it for addressable values.
type ptrText struct{ s string }

func (p *ptrText) MarshalText() ([]byte, error) { return []byte(p.s), nil }

type holder struct {
	Field ptrText
}

type withString struct {
	Note string `json:"note"`
}

func TestInvalidUTF8RefusedFromAnySource(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, _ := setup(t)
	deep := func(v any) map[string]any {
		for range audit.MaxMetadataDepth - 2 {
			v = map[string]any{"d": v}
		}
		return map[string]any{"top": v}
	}
	for name, meta := range map[string]map[string]any{
		"string":                      {"s": "bad \xff"},
		"key":                         {"bad \xff": 1},
		"string at depth 63":          deep("bad \xff"),
		"key at depth 63":             deep(map[string]any{"\xff": 1}),
		"text marshaler value":        {"v": badText{}},
		"text marshaler at depth 63":  deep(badText{}),
		"text marshaler key":          {"m": map[badKey]int{1: 1}},
		"json marshaler":              {"j": badJSON{}},
		"struct field":                {"s": withString{Note: "\xc3\x28"}},
		"pointer text marshaler":      {"h": &holder{Field: ptrText{s: "\xff"}}},
		"string in a slice of struct": {"l": []withString{{Note: "ok"}, {Note: "\xed\xa0\x80"}}},
	} {
		_, err := l.Track(ctx, nil, "doc.shared", nil, audit.WithMetadata(meta))
		require.ErrorIs(t, err, audit.ErrInvalidEvent, name)
		require.ErrorContains(t, err, "UTF-8", name)
	}
	// The same sources with valid text are recorded as encoding/json
	// would write them.
	e, err := l.Track(ctx, nil, "doc.shared", nil, audit.WithMetadata(map[string]any{
		"h": &holder{Field: ptrText{s: "ok"}}, "s": withString{Note: "\u2028<&>"}, "n": json.Number("1e3"),
	}))
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"h": map[string]any{"Field": "ok"}, "s": map[string]any{"note": "\u2028<&>"}, "n": json.Number("1e3"),
	}, e.Metadata)
	requireTotal(t, l, 1)
	require.False(t, errors.Is(err, audit.ErrInvalidEvent))
}
