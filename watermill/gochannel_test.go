package watermill_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	auditwm "github.com/trailkit/audit/watermill"
)

// messagesPerTest is how many messages TestGoChannelExactlyOnce publishes:
// AUDIT_WATERMILL_MESSAGES if set, else 10,000, or 2,000 with -short
// (.ci/run runs every test under the race detector with -short, where
// SQLite is some 15 times slower, and this one at full size without it).
func messagesPerTest(t *testing.T) int {
	t.Helper()
	if s := os.Getenv("AUDIT_WATERMILL_MESSAGES"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "AUDIT_WATERMILL_MESSAGES")
		return n
	}
	if testing.Short() {
		return 2_000
	}
	return 10_000
}

// shortOr is n, or short with -short.
func shortOr(n, short int) int {
	if testing.Short() {
		return short
	}
	return n
}

// TestGoChannelExactlyOnce: 10,000 messages through GoChannel are each
// recorded once, field by field. On a persistent GoChannel a second
// listener gets all of them again, and records none twice.
func TestGoChannelExactlyOnce(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			n := messagesPerTest(t)
			log := newLog(t)
			gc := goChannel(t, mode.persistent)
			tp := newTap(gc)
			li, err := log.Listen(t.Context(), auditwm.NewSubscriber(tp), "audit.events")
			require.NoError(t, err)
			pub := publish(t, gc, "audit.events", "ev", n)
			waitTotal(t, log.Logger, n)
			require.Eventually(t, func() bool { return tp.acks() == n }, waitFor, tick, "every message acknowledged")
			require.NoError(t, li.Close())
			requireRecordedOnce(t, log.Logger, pub)

			if mode.persistent {
				again := newTap(gc)
				li, err := log.Listen(t.Context(), auditwm.NewSubscriber(again), "audit.events")
				require.NoError(t, err)
				require.Eventually(t, func() bool { return again.acks() == n }, waitFor, tick, "every message redelivered and acknowledged")
				require.NoError(t, li.Close())
				requireRecordedOnce(t, log.Logger, pub)
			}
			_, _, errs := log.handled.snapshot()
			require.Empty(t, errs)
		})
	}
}

// TestGoChannelLostAck: when the ack of a recorded message is lost, the
// broker delivers the message again, and it is recorded once.
func TestGoChannelLostAck(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			n := shortOr(1000, 500)
			log := newLog(t)
			gc := goChannel(t, mode.persistent)
			tp := newTap(gc)
			lose := make(map[string]bool)
			tp.lose = func(uuid string) bool { return lose[uuid] }
			li, err := log.Listen(t.Context(), auditwm.NewSubscriber(tp), "audit.events")
			require.NoError(t, err)

			// Which acks are lost is set before publishing: lose reads it
			// without a lock.
			p, msgs := prepare(t, "audit.events", "ev", n)
			for i, m := range msgs {
				if i%3 == 0 {
					lose[m.UUID] = true
				}
			}
			require.NoError(t, gc.Publish("audit.events", msgs...))
			require.Eventually(t, func() bool { return tp.acks() == n }, waitFor, tick)
			require.NoError(t, li.Close())
			requireRecordedOnce(t, log.Logger, p)
			for i, key := range p.keys {
				delivered, acked, nacked := tp.counts(p.uuids[key])
				if i%3 == 0 {
					require.Equal(t, []int{2, 1, 1}, []int{delivered, acked, nacked}, "%s: delivered again after its ack was lost", key)
				} else {
					require.Equal(t, []int{1, 1, 0}, []int{delivered, acked, nacked}, key)
				}
			}
		})
	}
}

// TestGoChannelTwoListeners: two listeners on one topic, each on its own
// Logger of one file (as two processes would be), both get every message:
// each is recorded once.
func TestGoChannelTwoListeners(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			n := shortOr(2000, 800)
			log := newLog(t)
			other, err := audit.Open(t.Context(), log.path)
			require.NoError(t, err)
			defer func() { require.NoError(t, other.Close()) }()
			gc := goChannel(t, mode.persistent)
			taps := []*tap{newTap(gc), newTap(gc)}
			li1, err := log.Listen(t.Context(), auditwm.NewSubscriber(taps[0]), "audit.events")
			require.NoError(t, err)
			li2, err := other.Listen(t.Context(), auditwm.NewSubscriber(taps[1]), "audit.events")
			require.NoError(t, err)
			pub := publish(t, gc, "audit.events", "ev", n)
			for _, tp := range taps {
				require.Eventually(t, func() bool { return tp.acks() == n }, waitFor, tick, "each listener acknowledges every message")
			}
			require.NoError(t, li1.Close())
			require.NoError(t, li2.Close())
			requireRecordedOnce(t, log.Logger, pub)
		})
	}
}

// TestGoChannelFullDatabase: while the database is full, the listener
// holds the message it has, tries again with growing pauses and says so
// once; when there is room again every message is recorded, once.
func TestGoChannelFullDatabase(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			const n = 300
			log := newLog(t)
			gc := goChannel(t, mode.persistent)
			tp := newTap(gc)
			li, err := log.Listen(t.Context(), auditwm.NewSubscriber(tp), "audit.events")
			require.NoError(t, err)
			warm := publish(t, gc, "audit.events", "warm", 20)
			waitTotal(t, log.Logger, len(warm.keys))

			require.NoError(t, log.store.SetMaxBytes(t.Context(), 1)) // no room beyond the pages it has
			full := publish(t, gc, "audit.events", "full", n)
			require.Eventually(t, func() bool { return log.handled.count() > 0 }, waitFor, tick)
			before := log.store.failed.Load()
			const hold = 2 * time.Second
			time.Sleep(hold)
			failed := log.store.failed.Load() - before
			require.NoError(t, log.store.SetMaxBytes(t.Context(), 0))
			waitTotal(t, log.Logger, len(warm.keys)+n)
			require.Eventually(t, func() bool { return tp.acks() == len(warm.keys)+n }, waitFor, tick)
			require.NoError(t, li.Close())

			perSecond := float64(failed) / hold.Seconds()
			t.Logf("%s GoChannel, database full: %d failed writes in %v (%.1f/s)", mode.name, failed, hold, perSecond)
			require.Less(t, perSecond, 10.0, "retries back off")
			requireRecordedOnce(t, log.Logger, warm, full)
			topics, msgs, errs := log.handled.snapshot()
			require.Len(t, errs, 2, "told once of the failures, once of the recovery: %v", errs)
			require.ErrorIs(t, errs[0], audit.ErrRetrying)
			require.ErrorIs(t, errs[0], audit.ErrDiskFull)
			require.Equal(t, "audit.events", topics[0])
			require.NotEmpty(t, msgs[0])
			require.ErrorIs(t, errs[1], audit.ErrRecovered)
			for _, uuid := range full.uuids {
				delivered, acked, nacked := tp.counts(uuid)
				require.Equal(t, []int{1, 1, 0}, []int{delivered, acked, nacked}, "held, not redelivered")
			}
		})
	}
}

// TestCloseWaitsForAcks: Close, while a message's write is under way,
// waits for it to be committed and acknowledged before the watermill
// subscription ends (GoChannel would drop the message otherwise).
func TestCloseWaitsForAcks(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			log := newLog(t)
			gate := &storeGate{entered: make(chan struct{}, 1), release: make(chan struct{})}
			log.store.gate.Store(gate)
			gc := goChannel(t, mode.persistent)
			tp := newTap(gc)
			li, err := log.Listen(t.Context(), auditwm.NewSubscriber(tp), "audit.events")
			require.NoError(t, err)
			pub := publish(t, gc, "audit.events", "ev", 1)
			select {
			case <-gate.entered:
			case <-time.After(waitFor):
				require.FailNow(t, "the write never started")
			}

			closed := make(chan error, 1)
			go func() { closed <- li.Close() }()
			select {
			case err := <-closed:
				require.FailNow(t, "Close returned while a write was under way", "%v", err)
			case <-time.After(100 * time.Millisecond):
			}
			log.store.gate.Store(nil)
			close(gate.release)
			select {
			case err := <-closed:
				require.NoError(t, err)
			case <-time.After(waitFor):
				require.FailNow(t, "Close never returned")
			}
			requireRecordedOnce(t, log.Logger, pub)
			delivered, acked, nacked := tp.counts(pub.uuids[pub.keys[0]])
			require.Equal(t, []int{1, 1, 0}, []int{delivered, acked, nacked})
			require.Zero(t, tp.unsettledAtEnd(), "settled before the subscription's context ended")
		})
	}
}
