package audit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRetryBackoff: the nth wait is first doubled n-1 times, capped at
// limit, less a random part of at most a half; the draws spread over that
// range rather than repeating one value.
func TestRetryBackoff(t *testing.T) {
	t.Parallel()
	var r retrier
	build := func(opts ...Option) options {
		o, err := buildOptions(scopeLogger, opts)
		require.NoError(t, err)
		return o
	}
	r.init(build(WithRetryBackoff(10*time.Millisecond, time.Second)))
	for n, want := range map[int]time.Duration{
		1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond,
		7: 640 * time.Millisecond, 8: time.Second, 9: time.Second, 62: time.Second,
		63: time.Second, 64: time.Second, 1000: time.Second,
	} {
		lo, hi := want, time.Duration(0)
		for range 2000 {
			d := r.backoff(n)
			lo, hi = min(lo, d), max(hi, d)
		}
		require.GreaterOrEqual(t, lo, want/2, "n=%d", n)
		require.LessOrEqual(t, hi, want, "n=%d", n)
		require.Greater(t, hi-lo, want*2/5, "n=%d: jitter spreads the waits over half of the range", n)
	}

	// Defaults; a limit below first, or a wait that is not positive, is
	// refused.
	r.init(build())
	require.Equal(t, DefaultRetryBackoff, r.first)
	require.Equal(t, DefaultRetryBackoffLimit, r.limit)
	for _, bad := range [][2]time.Duration{{time.Second, time.Millisecond}, {-1, 0}, {0, time.Second}} {
		_, err := buildOptions(scopeLogger, []Option{WithRetryBackoff(bad[0], bad[1])})
		require.ErrorIs(t, err, ErrInvalidOption, "%v", bad)
	}
	for range 100 {
		require.Positive(t, r.backoff(1))
	}
}
