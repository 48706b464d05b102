package audit

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// TestPlainTreeIsTheRoundTrip checks that the metadata tree built without
// encoding/json (plainTree) is the one the round trip through it gives,
// on the naughty strings as keys and values, integers and floats at every
// edge of their formats, nil and empty maps and slices, and random trees;
// and that every other type takes the round trip.
func TestPlainTreeIsTheRoundTrip(t *testing.T) {
	check := func(m map[string]any) {
		t.Helper()
		want, err := roundTrip(m)
		require.NoError(t, err)
		got, ok := plainTree(m)
		require.True(t, ok, "%#v", m)
		require.Equal(t, want, got, "%#v", m)
	}
	var strs []string
	for _, s := range naughtyStrings(t) {
		if utf8.ValidString(s) { // metaWalker refuses the others first
			strs = append(strs, s)
		}
	}
	for _, s := range strs {
		check(map[string]any{"k": s})
		check(map[string]any{s: s, "n": []any{s, map[string]any{s: []any{}}}})
	}
	numbers := []any{
		0, -1, math.MaxInt, math.MinInt, int8(math.MinInt8), int8(math.MaxInt8), int16(math.MinInt16), int32(math.MaxInt32),
		int64(math.MinInt64), int64(math.MaxInt64), uint(math.MaxUint), uint8(255), uint16(65535), uint32(math.MaxUint32),
		uint64(math.MaxUint64), 0.0, math.Copysign(0, -1), 1.0, -1.0, 0.1, 1.5, 1e-6, 1e-7, 9.99e-7, 1.0000001e-6,
		1e20, 1e21, 1e21 - 65536, 1e22, -1e21, 123456789.123, 5e-324, -5e-324, math.MaxFloat64, -math.MaxFloat64,
		math.SmallestNonzeroFloat64 * 3, 1.5e300, 2.5e-300, 1 << 53, 1<<53 + 1, float64(1 << 63), 3.141592653589793,
	}
	for _, n := range numbers {
		check(map[string]any{"n": n, "in": []any{n, map[string]any{"n": n}}})
	}
	check(map[string]any{"nil": nil, "t": true, "f": false, "m": map[string]any{}, "s": []any{},
		"nilmap": map[string]any(nil), "nilslice": []any(nil), "deep": []any{[]any{[]any{map[string]any{"x": nil}}}}})

	r := rand.New(rand.NewPCG(1, 2))
	var tree func(depth int) any
	tree = func(depth int) any {
		switch k := r.IntN(10); {
		case k == 0 && depth < 5:
			m := map[string]any{}
			for range r.IntN(4) {
				m[strs[r.IntN(len(strs))]] = tree(depth + 1)
			}
			return m
		case k == 1 && depth < 5:
			s := make([]any, r.IntN(4))
			for i := range s {
				s[i] = tree(depth + 1)
			}
			return s
		case k == 2:
			return strs[r.IntN(len(strs))]
		case k == 3:
			return r.Int64() >> r.IntN(64)
		case k == 4:
			return r.Uint64() >> r.IntN(64)
		case k == 5:
			for {
				f := math.Float64frombits(r.Uint64())
				if !math.IsNaN(f) && !math.IsInf(f, 0) {
					return f
				}
			}
		case k == 6:
			return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(50)-25))
		case k == 7:
			return r.IntN(2) == 0
		case k == 8:
			return nil
		default:
			return r.IntN(1000)
		}
	}
	for range 2000 {
		check(map[string]any{"k": tree(0), "l": tree(0)})
	}

	// Everything else takes the round trip.
	type named string
	for _, v := range []any{struct{ A int }{1}, float32(1.5), json.Number("1"), map[string]string{"a": "b"},
		[]string{"a"}, named("x"), time.Unix(0, 0), math.NaN(), math.Inf(1), []byte("x"), &struct{}{}} {
		_, ok := plainTree(map[string]any{"k": v})
		require.False(t, ok, "%T", v)
	}
}
