package audit

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkFastDecoder checks decodeMetadata against encoding/json on raw:
// where the fast decoder answers, encoding/json accepts raw and gives the
// same value (types included: json.Number, string, bool, nil, []any,
// map[string]any); decodeMetadata gives what encoding/json gives, value or
// error. It returns whether the fast decoder answered.
func checkFastDecoder(t testing.TB, raw string) bool {
	t.Helper()
	want, wantErr := decodeMetadataStd([]byte(raw))
	fast, ok := decodeMetadataFast(raw)
	if ok && wantErr != nil {
		t.Fatalf("fast decoder accepts %q, encoding/json refuses it: %v", raw, wantErr)
	}
	if ok && !reflect.DeepEqual(fast, want) {
		t.Fatalf("fast decoder on %q:\n got %#v\nwant %#v", raw, fast, want)
	}
	got, err := decodeMetadata(raw)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("decodeMetadata(%q): error %v, encoding/json %v", raw, err, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeMetadata(%q):\n got %#v\nwant %#v", raw, got, want)
	}
	return ok
}

// naughtyStrings returns the Big List of Naughty Strings (every string,
// valid UTF-8 or not) when shared/testdata/blns.json is found in the
// working directory or a parent, and a few hard strings in any case.
func naughtyStrings(t testing.TB) []string {
	out := []string{"", "a", "\x00", "\u2028\u2029", "<>&", "\"\\/", "\ufffd", "\U0001F600", "\xff", "a\xc3", "\xed\xa0\x80",
		"\t\n\r\b\f", strings.Repeat("é", 100), "\x7f", "\u0085"}
	dir, err := os.Getwd()
	if err != nil {
		return out
	}
	for {
		p := filepath.Join(dir, "shared", "testdata", "blns.json")
		if raw, err := os.ReadFile(p); err == nil {
			var all []string
			if err := json.Unmarshal(raw, &all); err != nil {
				t.Fatal(err)
			}
			return append(out, all...)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Logf("shared/testdata/blns.json not found: %d hard strings only", len(out))
			return out
		}
		dir = parent
	}
}

// fuzzyNumbers are number literals, valid and not.
var fuzzyNumbers = []string{
	"0", "-0", "1", "-1", "10", "0.0", "-0.0", "1.5", "1e5", "1E5", "1e+5", "1e-5", "1E-0", "0e0", "-0e-0",
	"123456789012345678901234567890", "-9223372036854775808", "9223372036854775807", "18446744073709551615",
	"1.7976931348623157e308", "1e400", "-1e400", "4.9e-324", "1e-400", "0.1", "3.141592653589793238462643383279",
	"01", "-01", "00", "1.", ".5", "-", "+1", "1e", "1e+", "1.e5", "0x10", "1_000", "NaN", "Infinity", "-Infinity",
	"1.5.5", "1e5e5", "--1", "1-", "0.", "-.5", "١",
}

// TestFastMetadataDecoder compares the fast metadata decoder with
// encoding/json on hand-made texts, the naughty strings as keys and
// values, number literals, random trees in every encoding the log has
// written (encoding/json, canonical versions 1 and 2), and mutations of
// them.
func TestFastMetadataDecoder(t *testing.T) {
	hand := []string{
		`{}`, ` {} `, "\t{\n}\r\n", `{"a":1}`, `{ "a" : 1 , "b" : [ ] }`, `{"a":{}}`, `{"a":[]}`, `{"a":[{}]}`,
		`{"a":null,"b":true,"c":false}`, `{"a":"x","a":"y"}`, `{"a":{"b":1},"a":{"c":2}}`, `{"a":[1,2],"a":[3]}`,
		`{"":""}`, `{"a":"\u0000"}`, `{"a":"\u00e9\u00E9"}`, `{"a":"\ud83d\ude00"}`, `{"a":"\ud800"}`, `{"a":"\udc00x"}`,
		`{"a":"\/\\\"\b\f\n\r\t"}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, `{"a":"` + "\x01" + `"}`,
		`{"a":"` + "\xff" + `"}`, `{"a` + "\xc3" + `":1}`, `{"a":"é\n` + "\xff" + `"}`, `{"a":"\ufffd"}`,
		`{"a":1}x`, `{"a":1}}`, `{"a":1}]`, `{"a":1} {"b":2}`, `{"a":1},`, `{"a":1`, `{"a":`, `{"a"`, `{"a`, `{`, `{"a":1,}`,
		`{,}`, `{"a" 1}`, `{"a":1 "b":2}`, `{a:1}`, `{'a':1}`, `{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{"a":[1,]}`,
		`{"a":[,1]}`, `{"a":[1 2]}`, `null`, `[]`, `[{}]`, `"x"`, `1`, `true`, ``, ` `, `{"a":1}` + "\x00",
		"\ufeff{}", `{"a":"` + "\u2028" + `"}`, `{"a":-}`, `{"a":1.5e3}`,
	}
	deep := func(n int, open, close string) string {
		return `{"a":` + strings.Repeat(open, n) + `1` + strings.Repeat(close, n) + `}`
	}
	for _, n := range []int{1, 63, 64, 127, 128, 129, 1000, 10001} {
		hand = append(hand, deep(n, `[`, `]`), deep(n, `{"k":`, `}`), deep(n, `[{"k":`, `}]`))
	}
	answered := 0
	for _, raw := range hand {
		if checkFastDecoder(t, raw) {
			answered++
		}
	}
	if answered < 20 {
		t.Fatalf("the fast decoder answered only %d of %d hand-made texts", answered, len(hand))
	}

	strs := naughtyStrings(t)
	var texts []string
	for _, s := range strs {
		for _, m := range []map[string]any{{"k": s}, {s: "v"}, {s: []any{s, json.Number("1"), map[string]any{s: s}}}} {
			texts = append(texts, encodings(t, m)...)
		}
		// As is, unescaped, where it can be.
		texts = append(texts, `{"k":"`+s+`"}`, `{"`+s+`":0}`)
	}
	for _, n := range fuzzyNumbers {
		texts = append(texts, `{"n":`+n+`}`, `{"n":[`+n+`,`+n+`]}`, `{"n":`+n+` }`, `{"n":{"m":`+n+`}}`)
	}
	r := rand.New(rand.NewPCG(11, 11))
	for range 3000 {
		m := randomMap(r, strs, 0)
		texts = append(texts, encodings(t, m)...)
	}
	answered = 0
	for _, raw := range texts {
		if checkFastDecoder(t, raw) {
			answered++
		}
		// Mutations: a byte changed, dropped or doubled; a cut.
		if len(raw) > 0 {
			for range 3 {
				i := r.IntN(len(raw))
				checkFastDecoder(t, raw[:i]+string(rune(r.IntN(128)))+raw[i+1:])
				checkFastDecoder(t, raw[:i]+string([]byte{byte(r.IntN(256))})+raw[i+1:])
				checkFastDecoder(t, raw[:i]+raw[i+1:])
				checkFastDecoder(t, raw[:i]+raw[i:i+1]+raw[i:])
				checkFastDecoder(t, raw[:i])
			}
		}
	}
	if answered < len(texts)*3/4 {
		t.Fatalf("the fast decoder answered only %d of %d texts", answered, len(texts))
	}
	t.Logf("%d texts, %d answered by the fast decoder", len(texts), answered)
}

// encodings returns m as encoding/json writes it (with and without HTML
// escapes) and in the canonical forms of versions 1 and 2.
func encodings(t testing.TB, m map[string]any) []string {
	var out []string
	if raw, err := json.Marshal(m); err == nil {
		out = append(out, string(raw))
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(m); err == nil {
		out = append(out, b.String())
	}
	for _, form := range []jsonForm{formV1, formV2} {
		if raw, err := form.appendValue(nil, m, 0); err == nil {
			out = append(out, string(raw))
		}
	}
	return out
}

// randomMap returns a random metadata tree: strings from strs and random
// bytes, numbers of every kind, nesting.
func randomMap(r *rand.Rand, strs []string, depth int) map[string]any {
	m := make(map[string]any)
	for range r.IntN(6) {
		m[randomString(r, strs)] = randomValue(r, strs, depth+1)
	}
	return m
}

func randomValue(r *rand.Rand, strs []string, depth int) any {
	n := 9
	if depth > 6 {
		n = 7
	}
	switch r.IntN(n) {
	case 0:
		return randomString(r, strs)
	case 1:
		return json.Number(strconv.FormatInt(r.Int64()-r.Int64(), 10))
	case 2:
		return json.Number(strconv.FormatFloat(math.Float64frombits(r.Uint64()&^(0x7ff<<52)|uint64(r.IntN(0x7ff))<<52), 'g', -1, 64))
	case 3:
		n := fuzzyNumbers[r.IntN(len(fuzzyNumbers))]
		if json.Valid([]byte(n)) {
			return json.Number(n)
		}
		return n
	case 4:
		return r.IntN(2) == 0
	case 5:
		return nil
	case 6:
		return float64(r.IntN(1000)) / 8
	case 7:
		a := make([]any, r.IntN(4))
		for i := range a {
			a[i] = randomValue(r, strs, depth+1)
		}
		return a
	default:
		return randomMap(r, strs, depth)
	}
}

func randomString(r *rand.Rand, strs []string) string {
	switch r.IntN(4) {
	case 0:
		b := make([]byte, r.IntN(8))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	case 1:
		return fmt.Sprintf("k%d", r.IntN(100))
	default:
		s := strs[r.IntN(len(strs))]
		if !utf8.ValidString(s) && r.IntN(2) == 0 {
			return strings.ToValidUTF8(s, "?")
		}
		return s
	}
}

// FuzzFastMetadataDecoder compares the fast metadata decoder with
// encoding/json on any text.
func FuzzFastMetadataDecoder(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":[1,{"b":null}],"c":"\u00e9\n"}`, `{"a":"\ud83d\ude00"}`, `{"a":-0.5e-3}`, `{"a":01}`,
		`{"a":"` + "\xff" + `"}`, `{"a":1}}`, `{"a":1}x`, `{"a":1,"a":true}`, `[]`, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) { checkFastDecoder(t, raw) })
}
