package audittest

import (
	"strings"

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
