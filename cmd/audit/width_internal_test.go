package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDisplayWidth: the columns a terminal gives text: two for East Asian
// wide and fullwidth characters and emoji, none for combining marks and
// zero-width characters, one for the rest.
func TestDisplayWidth(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int{
		"":              0,
		"alice":         5,
		"山田太郎":          8,
		"Ａｌｉｃｅ":         10,
		"김민준":           6,
		"カタカナ":          8,
		"e\u0301":       1, // e and a combining acute accent
		"😀":             2,
		"a\u200bb":      2, // a zero-width space
		"Zoë":           3,
		"Ελληνικά":      8,
		"עברית":         5,
		"𠜎":             2, // CJK extension B
		"user:7 (山田太郎)": 17,
	} {
		require.Equal(t, want, displayWidth(s), "%q", s)
	}
}

// TestWriteColumns: cells after wide characters stay in their column, and
// a cut keeps within its width.
func TestWriteColumns(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	require.NoError(t, writeColumns(&b, [][]string{
		{"SEQ", "ACTOR", "OUTCOME"},
		{"1", "user:1 (山田太郎)", "success"},
		{"2", "user:2 (Alice)", "failure"},
		{"3", "user:3 (Ａｌ)", "success"},
	}))
	require.Equal(t, ""+
		"SEQ  ACTOR              OUTCOME\n"+
		"1    user:1 (山田太郎)  success\n"+
		"2    user:2 (Alice)     failure\n"+
		"3    user:3 (Ａｌ)      success\n", b.String())

	require.Equal(t, "山田…", cutWidth("山田太郎", 6))
	require.Equal(t, "山田太…", cutWidth("山田太郎", 7))
	require.Equal(t, "山田太郎", cutWidth("山田太郎", 8))
	require.Equal(t, "abcd…", cutWidth("abcdefgh", 5))
	require.LessOrEqual(t, displayWidth(cell(strings.Repeat("字", 100))), maxCell)
}
