package audittest_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/audittest"
)

// TestNaughtyStringsWithoutTheList runs where no blns.json can be found,
// under CI: the suite uses its own strings instead of skipping or failing.
// (Not parallel: it changes the working directory and the environment.)
func TestNaughtyStringsWithoutTheList(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("CI", "true")
	t.Setenv("AUDIT_BLNS", "")
	require.Equal(t, audittest.HardStrings(), audittest.LoadNaughtyStrings(t))
}

func TestHardStrings(t *testing.T) {
	t.Parallel()
	strs := audittest.HardStrings()
	require.GreaterOrEqual(t, len(strs), 60)
	seen := map[string]bool{}
	for _, s := range strs {
		require.True(t, utf8.ValidString(s), "%q", s)
		require.LessOrEqual(t, len(s), audit.MaxFieldBytes, "%q", s)
		require.False(t, seen[s], "%q twice", s)
		seen[s] = true
	}
	// Every kind the list promises is there.
	for _, kind := range []struct {
		name string
		has  func(string) bool
	}{
		{"NUL", func(s string) bool { return strings.Contains(s, "\x00") }},
		{"C1 control", func(s string) bool { return strings.Contains(s, "\u0085") }},
		{"U+2028", func(s string) bool { return strings.Contains(s, "\u2028") }},
		{"U+2029", func(s string) bool { return strings.Contains(s, "\u2029") }},
		{"BOM", func(s string) bool { return strings.HasPrefix(s, "\ufeff") }},
		{"right-to-left override", func(s string) bool { return strings.Contains(s, "\u202e") }},
		{"Hebrew", func(s string) bool { return strings.ContainsRune(s, 'ש') }},
		{"combining mark", func(s string) bool { return strings.Contains(s, "\u0301") }},
		{"zero-width joiner", func(s string) bool { return strings.Contains(s, "\u200d") }},
		{"skin tone modifier", func(s string) bool { return strings.Contains(s, "\U0001F3FD") }},
		{"single quote", func(s string) bool { return strings.Contains(s, "'") }},
		{"LIKE wildcards", func(s string) bool { return strings.Contains(s, "%") && strings.Contains(s, "_") }},
		{"script", func(s string) bool { return strings.Contains(s, "<script>") }},
		{"format verb", func(s string) bool { return strings.Contains(s, "%s") }},
		{"surrogate-looking", func(s string) bool { return strings.Contains(strings.ToLower(s), `\ud800`) }},
		{"last code point", func(s string) bool { return strings.Contains(s, "\U0010ffff") }},
		{"the longest field", func(s string) bool { return len(s) == audit.MaxFieldBytes }},
		{"the longest field in 4-byte characters", func(s string) bool {
			return len(s) == audit.MaxFieldBytes && utf8.RuneCountInString(s) == audit.MaxFieldBytes/4
		}},
	} {
		found := false
		for _, s := range strs {
			found = found || kind.has(s)
		}
		require.True(t, found, kind.name)
	}
}
