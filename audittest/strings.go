package audittest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"github.com/trailkit/audit"
)

// hardStrings are strings that break careless code, by kind. Every one is
// valid UTF-8 and must round-trip exactly through every string field.
var hardStrings = []string{
	// White space that is not a plain space, and nothing at all visible.
	" ", "  leading and trailing  ", "\t", "\u00a0", "\u3000", "\u200b", "\u2060", "\u00ad",

	// Control characters, NUL first: C strings end there.
	"\x00", "nul\x00inside", "\x01\x02\x1f", "\x7f", "\u0085", "line\nbreak", "cr\rlf\r\n",
	"tab\tinside", "\x1b[31mred\x1b[0m", "\x08\x08backspaced",

	// Line and paragraph separators: valid in JSON, not in JavaScript
	// string literals before ES2019.
	"line\u2028separator", "para\u2029separator",

	// Byte order marks, at the start and inside.
	"\ufeffbom at start", "mid\ufeffbom",

	// Right-to-left text and direction controls.
	"שלום עולם", "مرحبا بالعالم", "abc \u05d0\u05d1\u05d2 123", "\u202eevil override\u202c", "\u200fmark\u200e",

	// Combining marks: one é composed, one decomposed (they must stay
	// distinct), stacked marks, and a mark with nothing to combine with.
	"\u00e9", "e\u0301", "Z\u0351\u0352\u0353a\u0354\u0355\u0356l\u0357\u0358g\u0359o", "\u0301leading mark",

	// Emoji: joined sequences, skin tone modifiers, flags, keycaps, and a
	// lone joiner and non-joiner.
	"\U0001F469\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466", "\U0001F3F3\ufe0f\u200d\U0001F308",
	"\U0001F44D\U0001F3FD", "\U0001F1FA\U0001F1F3", "1\ufe0f\u20e3", "a\u200db", "a\u200cb",

	// SQL: quotes, comments, LIKE and GLOB wildcards, escapes,
	// placeholders.
	"' OR '1'='1", "'; DROP TABLE audit_events; --", `" OR ""="`, "100%", "_", "%_%", "a%b_c",
	`\`, `\%`, "' UNION SELECT name FROM sqlite_master --", "x' ESCAPE '\\", "[a-z]*", "?1", ":name", "@p", "$1",

	// Markup and script.
	"<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&lt;&amp;&gt;&quot;",
	"</textarea><svg onload=alert(1)>", "javascript:alert(1)", "]]><!--",

	// Format strings and template syntax.
	"%s%s%s%n", "%d %x %v %!", "%*.*s", "{0}", "{{.}}", "${jndi:ldap://x/a}", "#{7*7}",

	// Code points at the edges: replacement character, noncharacters,
	// the last code point, outside the BMP, tags.
	"\ufffd", "\ufffe", "\uffff", "\U0010ffff", "\U0001F600", "\U000E0041\U000E007F",

	// Text that looks like surrogates or broken encodings but is valid
	// UTF-8.
	`\ud800`, `\uDFFF\uD83D`, "&#xD800;", "%ED%A0%80", "Ã©", "\u00e2\u0080\u0099",

	// Values that look like other types.
	"0", "-0", "1e309", "NaN", "Infinity", "0x10", "null", "true", "[]", "{}", "\u0663",

	// Case mapping traps: Turkish dotted I, sharp s, titlecase, ligature,
	// Kelvin and Ohm signs.
	"İstanbul", "ß", "ǅ", "ﬃ", "\u212a", "\u2126",

	// Scripts outside Latin, supplementary CJK, full width.
	"田中さんにあげて下さい", "사회과학원 어학연구소", "𠜎𠜱𠝹", "ＡＢＣ",
}

// HardStrings returns the suite's own hard strings, written for it: white
// space and control characters (NUL, C1, ANSI escapes), U+2028 and U+2029,
// byte order marks, right-to-left text and overrides, combining marks,
// emoji with joiners and modifiers, SQL quotes, comments and wildcards (%,
// _), markup and script, format strings, code points at the edges of
// Unicode, surrogate-looking text, case-mapping traps, and strings at the
// longest a field takes (audit.MaxFieldBytes bytes, in 1- to 4-byte
// characters). Every one is valid UTF-8.
func HardStrings() []string {
	out := append([]string(nil), hardStrings...)
	return append(out,
		strings.Repeat("x", audit.MaxFieldBytes),
		strings.Repeat("é", audit.MaxFieldBytes/2),
		"a"+strings.Repeat("€", (audit.MaxFieldBytes-1)/3),
		strings.Repeat("\U0001F600", audit.MaxFieldBytes/4),
		"e"+strings.Repeat("\u0301", (audit.MaxFieldBytes-1)/2),
		strings.Repeat("'", audit.MaxFieldBytes-1),
	)
}

// LoadNaughtyStrings returns the strings of the NaughtyStrings case: the
// suite's own HardStrings, then, when it is found, every valid UTF-8
// string of the Big List of Naughty Strings, read from the file named by
// $AUDIT_BLNS or else from shared/testdata/blns.json in the working
// directory or one of its parents. The list is optional: without it the
// suite runs on its own strings, on any machine and any CI. A file named
// by AUDIT_BLNS that cannot be read fails the test.
func LoadNaughtyStrings(t testing.TB) []string {
	t.Helper()
	out := HardStrings()
	path := os.Getenv("AUDIT_BLNS")
	if path == "" {
		path = findBLNS()
	}
	if path == "" {
		t.Logf("shared/testdata/blns.json not found in the working directory or its parents (nor AUDIT_BLNS set): using the suite's %d hard strings only", len(out))
		return out
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var all []string
	require.NoError(t, json.Unmarshal(raw, &all))
	n := 0
	for _, s := range all {
		if utf8.ValidString(s) {
			out = append(out, s)
			n++
		}
	}
	require.Greater(t, n, 400, "%s is not the Big List of Naughty Strings", path)
	return out
}

// findBLNS looks for shared/testdata/blns.json in the working directory
// and its parents, and returns its path or "".
func findBLNS() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "shared", "testdata", "blns.json")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func testNaughtyStrings(t *testing.T, newStore NewStore) {
	// Redaction off: some of the strings, used as metadata keys, name
	// secrets ("/etc/passwd").
	l := setup(t, newStore, audit.WithRedactKeys())
	ctx := t.Context()
	strs := append(LoadNaughtyStrings(t), "")
	rejected := 0
	done := map[string]bool{}
	for _, s := range strs {
		if done[s] {
			continue // the list repeats a few
		}
		done[s] = true
		ref := audit.Ref{Type: s, ID: s, Name: s}
		tl := l.WithTenant(s)
		e, err := tl.Record(ctx, audit.Event{
			Action:         "naughty.string",
			Actor:          ref,
			Resource:       ref,
			Targets:        []audit.Ref{ref},
			Metadata:       map[string]any{"value": s, "k" + s: []any{s}},
			IdempotencyKey: s, // unique: each string is written once, in its own tenant
		})
		require.NoError(t, err, "%q", s)
		got, err := tl.Get(ctx, e.ID)
		require.NoError(t, err, "%q", s)
		sameEvent(t, e, got)
		require.Equal(t, s, got.Tenant)
		require.Equal(t, ref, got.Actor)
		require.Equal(t, []audit.Ref{ref}, got.Targets)
		require.Equal(t, s, got.Metadata["value"])
		require.Equal(t, []any{s}, got.Metadata["k"+s])

		// As an action, where it is a valid one.
		if err := audit.ValidateAction(s); err != nil {
			_, err := tl.Track(ctx, nil, s, nil)
			require.ErrorIs(t, err, audit.ErrInvalidEvent, "%q", s)
			rejected++
		} else {
			a, err := tl.Track(ctx, ref, s, ref)
			require.NoError(t, err, "%q", s)
			got, err := tl.Get(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, s, got.Action)
			p, err := tl.Recent(ctx, audit.Query{Action: s})
			require.NoError(t, err)
			require.Equal(t, 1, p.TotalCount, "%q", s)
			p, err = tl.Search(ctx, s, audit.Query{})
			require.NoError(t, err)
			require.GreaterOrEqual(t, p.TotalCount, 1, "%q", s)
			acts, err := tl.Actions(ctx, s, 1000)
			require.NoError(t, err)
			require.Contains(t, acts, audit.ActionCount{Action: s, Count: 1}, "%q", s)
		}
		// As every filter.
		if s != "" {
			q := audit.Query{ActorID: s, ResourceType: s, ResourceID: s}
			p, err := tl.Recent(ctx, q)
			require.NoError(t, err, "%q", s)
			require.Contains(t, seqs(p.Entries), e.Seq, "%q", s)
			f, err := tl.ForAccount(ctx, s, audit.Query{})
			require.NoError(t, err)
			require.Contains(t, seqs(f.Entries), e.Seq, "%q", s)
			// As a keystroke in a search box: the ref is suggested as
			// the actor and as the resource, each with its filter's total.
			var kinds []string
			for _, g := range suggestChecked(t, tl, s, audit.MaxSuggestLimit) {
				if g.Value == s && g.Type == s && g.Name == s {
					kinds = append(kinds, g.Kind)
				}
			}
			require.ElementsMatch(t, []string{audit.SuggestActor, audit.SuggestResource}, kinds, "%q", s)
		}
	}
	require.Greater(t, rejected, 0, "some naughty strings are not valid actions")
	require.Less(t, rejected, len(strs)/2)

	// Verify recounts the derived tables from the stored rows, reading
	// each event's targets back out of its JSON: a string the store's
	// JSON reading decodes differently breaks the recount.
	rep, err := l.Verify(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "Verify: a log of hard strings verifies, derived tables included: %+v", rep)
}
