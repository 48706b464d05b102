package sqlcore

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRowScanConversions checks that the conversions of rowScan give what
// database/sql's Scan into the Row's own fields gives, for the values
// drivers hand over.
func TestRowScanConversions(t *testing.T) {
	for _, v := range []any{int64(-7), int64(1 << 62), int32(5), "12", []byte("34"), uint8(9)} {
		var got int64
		require.NoError(t, scanInt(v, &got), "%#v", v)
		var want sql.NullInt64
		require.NoError(t, want.Scan(v))
		require.Equal(t, want.Int64, got, "%#v", v)
	}
	var n int64
	require.Error(t, scanInt(nil, &n))
	require.Error(t, scanInt("x", &n))
	for _, v := range []any{nil, "", "a\x00b", []byte("bytes"), []byte{}, int64(3), 1.5} {
		got := sql.NullString{String: "left over", Valid: true}
		require.NoError(t, scanNullString(v, &got), "%#v", v)
		var want sql.NullString
		require.NoError(t, want.Scan(v))
		require.Equal(t, want, got, "%#v", v)
	}
}
