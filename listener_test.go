package audit_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// Generous bounds for waits that cannot be avoided: far above anything a
// busy 2-core machine needs, so that they only fire when something hangs.
const (
	listenWaitFor = 60 * time.Second
	listenTick    = 10 * time.Millisecond
)

// listenEvent is an event identified by key (its resource ID and metadata).
func listenEvent(key string) audit.Event {
	return audit.Event{
		Action:   "bus.test",
		Resource: audit.Ref{Type: "item", ID: key},
		Metadata: map[string]any{"key": key},
	}
}

// listenAllEvents reads every event of l, newest first, following cursors.
func listenAllEvents(t *testing.T, l *audit.Logger) []audit.Event {
	t.Helper()
	var all []audit.Event
	q := audit.Query{PerPage: audit.MaxPerPage}
	for {
		p, err := l.Recent(t.Context(), q)
		require.NoError(t, err)
		all = append(all, p.Entries...)
		if p.Next == "" {
			require.Len(t, all, p.TotalCount, "entries read must match the exact total")
			return all
		}
		q.After = p.Next
	}
}

// listenKeyCounts counts the events of l by key (resource ID).
func listenKeyCounts(t *testing.T, l *audit.Logger) map[string]int {
	t.Helper()
	counts := make(map[string]int)
	for _, e := range listenAllEvents(t, l) {
		counts[e.Resource.ID]++
	}
	return counts
}

// requireListenedOnce checks that every key is recorded exactly once.
func requireListenedOnce(t *testing.T, counts map[string]int, keys []string) {
	t.Helper()
	for _, k := range keys {
		require.Equal(t, 1, counts[k], "event %q must be recorded exactly once", k)
	}
}

// listenTotal returns the exact number of events of l.
func listenTotal(t *testing.T, l *audit.Logger) int {
	t.Helper()
	p, err := l.Recent(t.Context(), audit.Query{PerPage: 1})
	require.NoError(t, err)
	return p.TotalCount
}

// listenTakeBacklog subscribes to every topic of bus and unsubscribes at once:
// the subscription takes the whole backlog, delivers it and closes. Each
// message is acknowledged, so the backlog is empty afterwards.
func listenTakeBacklog(t *testing.T, bus *audit.Bus) []*audit.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := bus.Subscribe(ctx, audit.AllTopics)
	require.NoError(t, err)
	cancel()
	var got []*audit.Message
	for m := range ch {
		got = append(got, m)
		require.True(t, m.Ack())
	}
	return got
}

// listenPublish publishes the events keyed keys on topic from
// workers goroutines.
func listenPublish(t *testing.T, bus *audit.Bus, topic string, keys []string, workers int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(keys))
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(keys); i += workers {
				if err := bus.Publish(t.Context(), topic, listenEvent(keys[i])); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func listenKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return keys
}

// listenErrors collects what a logger reports to its error handler.
type listenErrors struct {
	mu   sync.Mutex
	msgs []*audit.Message
	errs []error
}

func (h *listenErrors) handle(m *audit.Message, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, m)
	h.errs = append(h.errs, err)
}

func (h *listenErrors) snapshot() ([]*audit.Message, []error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*audit.Message(nil), h.msgs...), append([]error(nil), h.errs...)
}

// listenUpstream is a message of another bus, as an adapter receives it.
type listenUpstream struct {
	id, topic string
	ev        audit.Event
	sent      chan *audit.Message // optional, buffered: every delivery attempt
	done      chan int            // optional, buffered: the number of Nacks, once acked
}

// listenAdapterSub is a Subscriber shaped like a watermill adapter: for each
// upstream message it makes an audit.Message with the upstream ID, hands it
// out, waits until it is settled, and delivers it again (same ID) when it
// is Nack'ed.
type listenAdapterSub struct{ in chan listenUpstream }

func (a *listenAdapterSub) Subscribe(ctx context.Context, _ string) (<-chan *audit.Message, error) {
	out := make(chan *audit.Message)
	go func() {
		defer close(out)
		for {
			var u listenUpstream
			select {
			case u = <-a.in:
			case <-ctx.Done():
				return
			}
			for nacks := 0; ; nacks++ {
				m := audit.NewMessage(u.id, u.topic, u.ev)
				if u.sent != nil {
					u.sent <- m
				}
				select {
				case out <- m:
				case <-ctx.Done():
					return
				}
				select { // a message taken must be settled, even on close
				case <-m.Acked():
				case <-m.Nacked():
					continue
				}
				if u.done != nil {
					u.done <- nacks
				}
				break
			}
		}
	}()
	return out, nil
}

// listenSettled waits (generously) for m to be acknowledged or not.
func listenSettled(t *testing.T, m *audit.Message) (acked bool) {
	t.Helper()
	select {
	case <-m.Acked():
		return true
	case <-m.Nacked():
		return false
	case <-time.After(listenWaitFor):
		require.FailNow(t, "message never settled", "message %s", m.ID)
		return false
	}
}

func listenRecv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(listenWaitFor):
		require.FailNow(t, "nothing received")
		var zero T
		return zero
	}
}

func requireListenUnsettled(t *testing.T, m *audit.Message) {
	t.Helper()
	select {
	case <-m.Acked():
		require.FailNow(t, "message acknowledged too early")
	case <-m.Nacked():
		require.FailNow(t, "message Nack'ed unexpectedly")
	default:
	}
}

var errListenInjected = errors.New("injected store failure")

// listenFlakyStore fails the first failures calls of Append.
type listenFlakyStore struct {
	*audit.SQLiteStore
	failures atomic.Int64
	calls    atomic.Int64
}

func (s *listenFlakyStore) Append(ctx context.Context, events []audit.Event) ([]audit.AppendResult, error) {
	s.calls.Add(1)
	if s.failures.Add(-1) >= 0 {
		return nil, fmt.Errorf("append %d events: %w", len(events), errListenInjected)
	}
	return s.SQLiteStore.Append(ctx, events)
}

// listenGateStore holds each Append until the test releases it.
type listenGateStore struct {
	*audit.SQLiteStore
	entered chan struct{}
	release chan struct{}
}

func (s *listenGateStore) Append(ctx context.Context, events []audit.Event) ([]audit.AppendResult, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.SQLiteStore.Append(ctx, events)
}

func listenSQLite(t *testing.T) *audit.SQLiteStore {
	t.Helper()
	s, err := audit.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	return s
}

// listenNew returns a logger on store, closed when the test ends.
func listenNew(t *testing.T, store audit.Store, opts ...audit.Option) *audit.Logger {
	t.Helper()
	l, err := audit.New(store, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l
}

// 1. Every message published before Listener.Close is recorded, once.

func TestListenRecordsEverythingPublishedBeforeClose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		buffer  int
		workers int
	}{
		{"defaults", audit.DefaultBusBuffer, 0},
		{"small buffer one worker", 8, 1},
		{"small buffer many workers", 16, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []audit.Option
			if tc.workers > 0 {
				opts = append(opts, audit.WithListenerWorkers(tc.workers))
			}
			l, _ := setup(t, opts...)
			bus := audit.NewBusSize(tc.buffer)
			li, err := l.Listen(t.Context(), bus)
			require.NoError(t, err)

			keys := listenKeys("ev", 500)
			listenPublish(t, bus, "things", keys, 8)
			require.NoError(t, li.Close())

			// No waiting: Close has returned, so everything is there.
			require.Equal(t, len(keys), listenTotal(t, l))
			counts := listenKeyCounts(t, l)
			require.Len(t, counts, len(keys))
			requireListenedOnce(t, counts, keys)
			require.Empty(t, listenTakeBacklog(t, bus), "nothing may be left on the bus")
		})
	}
}

func TestListenCloseWhilePublishing(t *testing.T) {
	t.Parallel()
	l, _ := setup(t, audit.WithListenerWorkers(8))
	bus := audit.NewBusSize(32)
	li, err := l.Listen(t.Context(), bus)
	require.NoError(t, err)

	var (
		mu        sync.Mutex
		published []string // Publish returned nil
		stop      = make(chan struct{})
		closing   atomic.Bool
		wg        sync.WaitGroup
		failures  = make(chan error, 100)
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%06d", w, i)
				err := bus.Publish(t.Context(), "things", listenEvent(key))
				switch {
				case err == nil:
					mu.Lock()
					published = append(published, key)
					mu.Unlock()
				case closing.Load() && errors.Is(err, audit.ErrBusFull):
					// No subscription any more and the backlog is full: an
					// error, not a silent drop.
				default:
					failures <- err
					return
				}
			}
		})
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(published) >= 300
	}, listenWaitFor, listenTick)

	mu.Lock()
	before := append([]string(nil), published...) // published before Close is called
	mu.Unlock()
	closing.Store(true)
	require.NoError(t, li.Close())
	counts := listenKeyCounts(t, l)
	requireListenedOnce(t, counts, before)

	close(stop)
	wg.Wait()
	close(failures)
	for err := range failures {
		require.NoError(t, err)
	}

	// What was published after Close waits in the backlog for the next
	// listener: nothing is lost, nothing is recorded twice.
	li, err = l.Listen(t.Context(), bus)
	require.NoError(t, err)
	require.NoError(t, li.Close())
	counts = listenKeyCounts(t, l)
	require.Len(t, counts, len(published))
	requireListenedOnce(t, counts, published)
}

func TestListenLoggerCloseClosesListeners(t *testing.T) {
	t.Parallel()
	l, path := setup(t)
	bus := audit.NewBus()
	li, err := l.Listen(t.Context(), bus)
	require.NoError(t, err)
	keys := listenKeys("ev", 300)
	listenPublish(t, bus, "things", keys, 6)

	require.NoError(t, l.Close()) // closes li first, which records everything
	require.NoError(t, li.Close())

	l2, err := audit.Open(t.Context(), path)
	require.NoError(t, err)
	defer func() { require.NoError(t, l2.Close()) }()
	counts := listenKeyCounts(t, l2)
	require.Len(t, counts, len(keys))
	requireListenedOnce(t, counts, keys)
}

func TestListenContextCancelStopsListener(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	bus := audit.NewBus()
	ctx, cancel := context.WithCancel(t.Context())
	li, err := l.Listen(ctx, bus)
	require.NoError(t, err)
	keys := listenKeys("ev", 100)
	listenPublish(t, bus, "things", keys, 4)
	cancel()
	require.NoError(t, li.Close())
	requireListenedOnce(t, listenKeyCounts(t, l), keys)

	// The listener has unsubscribed: new messages wait in the backlog.
	require.NoError(t, bus.Publish(t.Context(), "things", listenEvent("late")))
	backlog := listenTakeBacklog(t, bus)
	require.Len(t, backlog, 1)
	require.Equal(t, "late", backlog[0].Event.Resource.ID)
	require.Equal(t, len(keys), listenTotal(t, l))
}

// 2. Topics and the backlog.

func TestListenAllTopicsByDefault(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	bus := audit.NewBus()
	li, err := l.Listen(t.Context(), bus)
	require.NoError(t, err)
	topics := []string{"users", "projects", "billing", "x.y.z"}
	var keys []string
	for _, topic := range topics {
		for i := range 5 {
			key := fmt.Sprintf("%s-%d", topic, i)
			keys = append(keys, key)
			require.NoError(t, bus.Publish(t.Context(), topic, listenEvent(key)))
		}
	}
	require.NoError(t, li.Close())
	counts := listenKeyCounts(t, l)
	require.Len(t, counts, len(keys))
	requireListenedOnce(t, counts, keys)
}

func TestListenSelectedTopics(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	bus := audit.NewBus()
	li, err := l.Listen(t.Context(), bus, "users", "projects")
	require.NoError(t, err)

	var want, other []string
	for i := range 10 {
		for _, topic := range []string{"users", "projects", "billing"} {
			key := fmt.Sprintf("%s-%d", topic, i)
			require.NoError(t, bus.Publish(t.Context(), topic, listenEvent(key)))
			if topic == "billing" {
				other = append(other, key)
			} else {
				want = append(want, key)
			}
		}
	}
	require.NoError(t, li.Close())
	counts := listenKeyCounts(t, l)
	require.Len(t, counts, len(want), "only the listened topics are recorded")
	requireListenedOnce(t, counts, want)

	// "billing" had no subscription: its messages wait in the backlog and
	// go to the first subscription of the topic.
	li, err = l.Listen(t.Context(), bus, "billing")
	require.NoError(t, err)
	require.NoError(t, li.Close())
	counts = listenKeyCounts(t, l)
	require.Len(t, counts, len(want)+len(other))
	requireListenedOnce(t, counts, append(want, other...))
	require.Empty(t, listenTakeBacklog(t, bus))
}

func TestListenRecordsBacklogPublishedBeforeListen(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	bus := audit.NewBus()
	keys := listenKeys("early", 200)
	listenPublish(t, bus, "things", keys, 4)
	li, err := l.Listen(t.Context(), bus)
	require.NoError(t, err)
	require.NoError(t, li.Close())
	counts := listenKeyCounts(t, l)
	require.Len(t, counts, len(keys))
	requireListenedOnce(t, counts, keys)
	require.Empty(t, listenTakeBacklog(t, bus))
}

func TestListenOverlappingTopicsRecordOnce(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	bus := audit.NewBus()
	// Every message on "users" reaches both subscriptions, with one ID.
	li, err := l.Listen(t.Context(), bus, "users", audit.AllTopics)
	require.NoError(t, err)
	keys := listenKeys("u", 100)
	listenPublish(t, bus, "users", keys, 4)
	require.NoError(t, li.Close())
	counts := listenKeyCounts(t, l)
	require.Len(t, counts, len(keys))
	requireListenedOnce(t, counts, keys)
}

// 3. Exactly once with redelivery.

func TestListenExactlyOnceWithRedelivery(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	sub := &listenAdapterSub{in: make(chan listenUpstream)}
	li, err := l.Listen(t.Context(), sub, "things")
	require.NoError(t, err)

	deliver := func(id string, ev audit.Event) *audit.Message {
		u := listenUpstream{id: id, topic: "things", ev: ev, sent: make(chan *audit.Message, 8), done: make(chan int, 1)}
		sub.in <- u
		require.Equal(t, 0, listenRecv(t, u.done), "nothing to Nack")
		return <-u.sent
	}

	// The same message twice: recorded once, both acknowledged.
	first := deliver("msg-1", listenEvent("a"))
	second := deliver("msg-1", listenEvent("a"))
	require.NotSame(t, first, second)
	require.Equal(t, 1, listenTotal(t, l))
	page, err := l.Recent(t.Context(), audit.Query{})
	require.NoError(t, err)
	require.Equal(t, "msg-1", page.Entries[0].IdempotencyKey, "the message ID is the idempotency key")
	require.Equal(t, "a", page.Entries[0].Resource.ID)

	// A redelivery that differs in content is still the same message.
	deliver("msg-1", listenEvent("a-changed"))
	require.Equal(t, 1, listenTotal(t, l))

	// An event's own idempotency key wins over the message ID.
	ev := listenEvent("b")
	ev.IdempotencyKey = "own-key"
	deliver("msg-2", ev)
	deliver("msg-3", ev)
	require.Equal(t, 2, listenTotal(t, l))

	// Another message ID is another event.
	deliver("msg-4", listenEvent("a"))
	require.NoError(t, li.Close())
	counts := listenKeyCounts(t, l)
	require.Equal(t, map[string]int{"a": 2, "b": 1}, counts)
}

func TestListenConcurrentDuplicatesRecordOnce(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	sub := &listenAdapterSub{in: make(chan listenUpstream)}
	// Two topics: two adapter goroutines, so both copies of a message may
	// be in flight (and in one batch) at once.
	li, err := l.Listen(t.Context(), sub, "t1", "t2")
	require.NoError(t, err)

	keys := listenKeys("dup", 100)
	done := make(chan int, 2*len(keys))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for _, k := range keys {
				sub.in <- listenUpstream{id: "msg-" + k, topic: "t1", ev: listenEvent(k), done: done}
			}
		})
	}
	wg.Wait()
	for range 2 * len(keys) {
		require.Equal(t, 0, listenRecv(t, done))
	}
	require.NoError(t, li.Close())
	counts := listenKeyCounts(t, l)
	require.Len(t, counts, len(keys))
	requireListenedOnce(t, counts, keys)
}

// 4. Acknowledged only after the commit.

func TestListenAcksOnlyAfterCommit(t *testing.T) {
	t.Parallel()
	// entered has room for every Append of the test: only the first is
	// waited for.
	store := &listenGateStore{SQLiteStore: listenSQLite(t), entered: make(chan struct{}, 64), release: make(chan struct{})}
	l := listenNew(t, store)
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(store.release) }) }
	t.Cleanup(release) // before the logger's Close, even on failure
	sub := &listenAdapterSub{in: make(chan listenUpstream)}
	li, err := l.Listen(t.Context(), sub, "things")
	require.NoError(t, err)

	u := listenUpstream{id: "msg-1", topic: "things", ev: listenEvent("gated"), sent: make(chan *audit.Message, 1), done: make(chan int, 1)}
	sub.in <- u
	m := listenRecv(t, u.sent)
	listenRecv(t, store.entered) // the write is under way, not committed
	requireListenUnsettled(t, m)
	require.Equal(t, 0, listenTotal(t, l))

	release()
	require.True(t, listenSettled(t, m))
	// Acked is closed: the event is already committed and visible.
	page, err := l.Recent(t.Context(), audit.Query{})
	require.NoError(t, err)
	require.Equal(t, 1, page.TotalCount)
	got, err := l.Get(t.Context(), page.Entries[0].ID)
	require.NoError(t, err)
	require.Equal(t, "gated", got.Resource.ID)
	require.Equal(t, "msg-1", got.IdempotencyKey)

	// The same holds for every message, checked right at its Ack.
	for i := range 20 {
		key := fmt.Sprintf("k-%d", i)
		u := listenUpstream{id: "msg-" + key, topic: "things", ev: listenEvent(key), sent: make(chan *audit.Message, 1), done: make(chan int, 1)}
		sub.in <- u
		m := listenRecv(t, u.sent)
		require.True(t, listenSettled(t, m))
		p, err := l.Recent(t.Context(), audit.Query{ResourceID: key})
		require.NoError(t, err)
		require.Equal(t, 1, p.TotalCount, "event %s must be visible once acknowledged", key)
		listenRecv(t, u.done)
	}
	require.NoError(t, li.Close())
}

// 5. A failing store and invalid events.

// TestListenRetriesStoreFailures: a write that fails for a passing reason
// is retried in place, after a pause, not Nack'ed at once for the bus to
// redeliver (issue 10: GoChannel redelivered a Nack'ed message at once,
// 14k-26k failed attempts per second while the disk was full); the error
// handler hears once that writes fail and once that they recovered.
func TestListenRetriesStoreFailures(t *testing.T) {
	t.Parallel()
	const failures = 3
	store := &listenFlakyStore{SQLiteStore: listenSQLite(t)}
	store.failures.Store(failures)
	var handled listenErrors
	l := listenNew(t, store, audit.WithErrorHandler(handled.handle), audit.WithRetryBackoff(time.Millisecond, 4*time.Millisecond))
	sub := &listenAdapterSub{in: make(chan listenUpstream)}
	li, err := l.Listen(t.Context(), sub, "things")
	require.NoError(t, err)

	u := listenUpstream{id: "msg-1", topic: "things", ev: listenEvent("a"), sent: make(chan *audit.Message, failures+1), done: make(chan int, 1)}
	sub.in <- u
	require.Equal(t, 0, listenRecv(t, u.done), "retried in place, never Nack'ed")
	require.Len(t, u.sent, 1, "delivered once")
	require.True(t, listenSettled(t, <-u.sent))
	msgs, errs := handled.snapshot()
	require.Len(t, errs, 2, "the start of the stretch and its end, not every attempt")
	require.ErrorIs(t, errs[0], audit.ErrRetrying)
	require.ErrorIs(t, errs[0], errListenInjected)
	require.NotErrorIs(t, errs[0], audit.ErrInvalidEvent)
	require.Equal(t, "msg-1", msgs[0].ID)
	require.ErrorIs(t, errs[1], audit.ErrRecovered)
	require.NotErrorIs(t, errs[1], errListenInjected, "a recovery is not one more failure")
	require.Nil(t, msgs[1])
	require.Contains(t, errs[1].Error(), "after 3 failed attempts")
	require.NoError(t, li.Close())
	require.Equal(t, map[string]int{"a": 1}, listenKeyCounts(t, l))
	require.EqualValues(t, failures+1, store.calls.Load())
}

func TestListenBusRedeliversAfterStoreFailures(t *testing.T) {
	t.Parallel()
	const failures = 5
	store := &listenFlakyStore{SQLiteStore: listenSQLite(t)}
	store.failures.Store(failures)
	var handled listenErrors
	l := listenNew(t, store, audit.WithErrorHandler(handled.handle), audit.WithListenerWorkers(8))
	bus := audit.NewBusSize(64)
	li, err := l.Listen(t.Context(), bus)
	require.NoError(t, err)

	keys := listenKeys("ev", 200)
	listenPublish(t, bus, "things", keys, 4)
	// Failed messages are retried after the listener's back-off: wait
	// until all are in, so that none is still waiting at Close.
	require.Eventually(t, func() bool {
		p, err := l.Recent(t.Context(), audit.Query{PerPage: 1})
		return err == nil && p.TotalCount >= len(keys)
	}, listenWaitFor, listenTick)
	require.NoError(t, li.Close())

	counts := listenKeyCounts(t, l)
	require.Len(t, counts, len(keys))
	requireListenedOnce(t, counts, keys)
	// One stretch of failures: told when it started and when it ended.
	msgs, errs := handled.snapshot()
	require.Len(t, errs, 2)
	require.ErrorIs(t, errs[0], audit.ErrRetrying)
	require.ErrorIs(t, errs[0], errListenInjected)
	require.NotNil(t, msgs[0])
	require.ErrorIs(t, errs[1], audit.ErrRecovered)
	require.Regexp(t, `^audit: listen: writes recovered after \d+ failed attempts in `, errs[1].Error())
	require.Empty(t, listenTakeBacklog(t, bus))
}

func TestListenInvalidEventReportedAndAcked(t *testing.T) {
	t.Parallel()
	var handled listenErrors
	l, _ := setup(t, audit.WithErrorHandler(handled.handle))

	t.Run("bus", func(t *testing.T) {
		t.Parallel()
		lt := l.WithTenant("bus")
		bus := audit.NewBus()
		li, err := lt.Listen(t.Context(), bus)
		require.NoError(t, err)
		bad := listenEvent("bad")
		bad.Action = ""
		require.NoError(t, bus.Publish(t.Context(), "things", listenEvent("before")))
		require.NoError(t, bus.Publish(t.Context(), "things", bad))
		require.NoError(t, bus.Publish(t.Context(), "things", listenEvent("after")))
		require.NoError(t, li.Close())

		require.Equal(t, map[string]int{"before": 1, "after": 1}, listenKeyCounts(t, lt))
		var reported []error
		msgs, errs := handled.snapshot()
		for i, m := range msgs {
			if m != nil && m.Event.Resource.ID == "bad" && m.Topic == "things" {
				require.ErrorIs(t, errs[i], audit.ErrInvalidEvent)
				reported = append(reported, errs[i])
			}
		}
		require.Len(t, reported, 1, "reported once, not redelivered")
		require.Empty(t, listenTakeBacklog(t, bus), "acknowledged, not sent back to the bus")
	})

	t.Run("adapter", func(t *testing.T) {
		t.Parallel()
		lt := l.WithTenant("adapter")
		sub := &listenAdapterSub{in: make(chan listenUpstream)}
		li, err := lt.Listen(t.Context(), sub, "adapter")
		require.NoError(t, err)
		for _, ev := range []audit.Event{
			{Action: "", Resource: audit.Ref{Type: "item", ID: "empty-action"}},
			{Action: "x.y", Outcome: "maybe", Resource: audit.Ref{Type: "item", ID: "bad-outcome"}},
			{Action: "x.y", Tenant: "someone-else", Resource: audit.Ref{Type: "item", ID: "other-tenant"}},
		} {
			u := listenUpstream{id: "msg-" + ev.Resource.ID, topic: "adapter", ev: ev, sent: make(chan *audit.Message, 1), done: make(chan int, 1)}
			sub.in <- u
			require.Equal(t, 0, listenRecv(t, u.done), "%s: acknowledged, never Nack'ed", ev.Resource.ID)
			require.True(t, listenSettled(t, <-u.sent))
			// The handler ran before the Ack.
			found := false
			msgs, errs := handled.snapshot()
			for i, m := range msgs {
				if m != nil && m.ID == u.id {
					require.ErrorIs(t, errs[i], audit.ErrInvalidEvent)
					found = true
				}
			}
			require.True(t, found, "%s must be reported", ev.Resource.ID)
		}
		require.NoError(t, li.Close())
		require.Equal(t, 0, listenTotal(t, lt))
	})
}

// 6. Backpressure, never a silent drop.

func TestBusBackpressure(t *testing.T) {
	t.Parallel()
	bus := audit.NewBusSize(4)
	subCtx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := bus.Subscribe(subCtx, "things")
	require.NoError(t, err)

	for i := range 4 {
		require.NoError(t, bus.Publish(t.Context(), "things", listenEvent(fmt.Sprint(i))))
	}
	// Nobody reads: the fifth waits for room until its context is done.
	ctx, cancelPub := context.WithTimeout(t.Context(), 50*time.Millisecond)
	err = bus.Publish(ctx, "things", listenEvent("timed-out"))
	cancelPub()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	ctx, cancelPub = context.WithCancel(t.Context())
	cancelPub()
	require.ErrorIs(t, bus.Publish(ctx, "things", listenEvent("canceled")), context.Canceled)

	// Delivered but unacknowledged messages still take room.
	var held []*audit.Message
	for range 4 {
		held = append(held, listenRecv(t, ch))
	}
	ctx, cancelPub = context.WithTimeout(t.Context(), 50*time.Millisecond)
	err = bus.Publish(ctx, "things", listenEvent("still-full"))
	cancelPub()
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// A waiting publisher goes on as soon as there is room.
	published := make(chan error, 1)
	go func() { published <- bus.Publish(t.Context(), "things", listenEvent("4")) }()
	require.True(t, held[0].Ack())
	require.NoError(t, listenRecv(t, published))
	for _, m := range held[1:] {
		require.True(t, m.Ack())
	}
	require.NoError(t, bus.Publish(t.Context(), "things", listenEvent("5")))

	// In order, and none of the rejected ones.
	got := []string{}
	for _, m := range held {
		got = append(got, m.Event.Resource.ID)
	}
	for range 2 {
		m := listenRecv(t, ch)
		got = append(got, m.Event.Resource.ID)
		require.True(t, m.Ack())
	}
	require.Equal(t, []string{"0", "1", "2", "3", "4", "5"}, got)

	cancel()
	for m := range ch { // closes once drained
		require.FailNow(t, "unexpected message", "%v", m.Event)
	}
	require.Empty(t, listenTakeBacklog(t, bus))
}

func TestBusBacklogFull(t *testing.T) {
	t.Parallel()
	bus := audit.NewBusSize(4)
	// A subscription to another topic does not take these.
	subCtx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := bus.Subscribe(subCtx, "elsewhere")
	require.NoError(t, err)

	for i := range 4 {
		require.NoError(t, bus.Publish(t.Context(), fmt.Sprintf("topic-%d", i%2), listenEvent(fmt.Sprint(i))))
	}
	err = bus.Publish(t.Context(), "topic-0", listenEvent("full"))
	require.ErrorIs(t, err, audit.ErrBusFull)

	// The backlog is delivered to the first matching subscription, which
	// makes room again.
	ctx, cancelSub := context.WithCancel(t.Context())
	ch, err := bus.Subscribe(ctx, "topic-0")
	require.NoError(t, err)
	cancelSub()
	var got []string
	for m := range ch {
		got = append(got, m.Event.Resource.ID)
		require.Equal(t, "topic-0", m.Topic)
		require.True(t, m.Ack())
	}
	require.Equal(t, []string{"0", "2"}, got)
	require.NoError(t, bus.Publish(t.Context(), "topic-0", listenEvent("room")))
	require.NoError(t, bus.Publish(t.Context(), "topic-0", listenEvent("more room")))
	require.ErrorIs(t, bus.Publish(t.Context(), "topic-1", listenEvent("full again")), audit.ErrBusFull)

	got = nil
	for _, m := range listenTakeBacklog(t, bus) {
		got = append(got, m.Event.Resource.ID)
	}
	require.ElementsMatch(t, []string{"1", "3", "room", "more room"}, got)
}

func TestBusRedeliversNacked(t *testing.T) {
	t.Parallel()
	bus := audit.NewBus()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := bus.Subscribe(ctx, "things")
	require.NoError(t, err)

	require.NoError(t, bus.Publish(t.Context(), "things", listenEvent("a")))
	m1 := listenRecv(t, ch)
	require.True(t, m1.Nack())
	require.False(t, m1.Ack(), "only the first settlement counts")
	require.False(t, m1.Nack())
	m2 := listenRecv(t, ch)
	require.NotSame(t, m1, m2)
	require.Equal(t, m1.ID, m2.ID, "a redelivery keeps the ID")
	require.Equal(t, "a", m2.Event.Resource.ID)
	require.True(t, m2.Ack())

	// Unsettled when the subscription ends: the subscription waits for it
	// to be settled, and a Nack then hands it to the next subscription.
	require.NoError(t, bus.Publish(t.Context(), "things", listenEvent("b")))
	m3 := listenRecv(t, ch)
	cancel()
	require.True(t, m3.Nack())
	for m := range ch {
		// Nack'ed before the subscription saw its end: delivered again.
		require.Equal(t, m3.ID, m.ID)
		require.True(t, m.Nack())
	}
	// The channel closed only once the message was back on the bus.
	backlog := listenTakeBacklog(t, bus)
	require.Len(t, backlog, 1)
	require.Equal(t, m3.ID, backlog[0].ID)
	require.Equal(t, "b", backlog[0].Event.Resource.ID)
}

// 7. Lifecycle events.

func TestListenRecordsLifecycleEvents(t *testing.T) {
	t.Parallel()
	bus := audit.NewBus()
	// One worker: messages are recorded in the order they were published.
	l, path := setup(t, audit.WithBus(bus), audit.WithListenerWorkers(1))
	li, err := l.Listen(t.Context(), bus) // audit.opened and audit.migrated wait in the backlog
	require.NoError(t, err)
	require.NoError(t, bus.Publish(t.Context(), "app", listenEvent("app")))
	require.NoError(t, l.Close()) // publishes audit.closed, then closes li
	require.NoError(t, li.Close())

	l2, err := audit.Open(t.Context(), path)
	require.NoError(t, err)
	events := listenAllEvents(t, l2)
	require.NoError(t, l2.Close())
	var actions []string
	for i := len(events) - 1; i >= 0; i-- { // oldest first
		actions = append(actions, events[i].Action)
	}
	require.Equal(t, []string{"audit.opened", "audit.migrated", "bus.test", "audit.closed"}, actions)
	opened := events[len(events)-1]
	require.Equal(t, "audit_log", opened.Resource.Type)

	// A file that needs no migration: audit.opened only, on LifecycleTopic.
	bus3 := audit.NewBus()
	l3, err := audit.Open(t.Context(), path, audit.WithBus(bus3))
	require.NoError(t, err)
	backlog := listenTakeBacklog(t, bus3)
	require.Len(t, backlog, 1)
	require.Equal(t, audit.LifecycleTopic, backlog[0].Topic)
	require.Equal(t, "audit.opened", backlog[0].Event.Action)
	require.NoError(t, l3.Close())
	backlog = listenTakeBacklog(t, bus3)
	require.Len(t, backlog, 1)
	require.Equal(t, "audit.closed", backlog[0].Event.Action)
}

func TestListenLifecycleTopicOnly(t *testing.T) {
	t.Parallel()
	bus := audit.NewBus()
	l, _ := setup(t, audit.WithBus(bus))
	li, err := l.Listen(t.Context(), bus, audit.LifecycleTopic)
	require.NoError(t, err)
	require.NoError(t, bus.Publish(t.Context(), "app", listenEvent("app")))
	require.NoError(t, li.Close())
	var actions []string
	for _, e := range listenAllEvents(t, l) {
		actions = append(actions, e.Action)
	}
	require.ElementsMatch(t, []string{"audit.opened", "audit.migrated"}, actions)
	backlog := listenTakeBacklog(t, bus)
	require.Len(t, backlog, 1)
	require.Equal(t, "app", backlog[0].Topic)
}

// 8. Edges of the API.

func TestListenCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	bus := audit.NewBus()
	li, err := l.Listen(t.Context(), bus)
	require.NoError(t, err)
	keys := listenKeys("ev", 50)
	listenPublish(t, bus, "things", keys, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- li.Close() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, li.Close())
	requireListenedOnce(t, listenKeyCounts(t, l), keys)
	require.NoError(t, l.Close())
	require.NoError(t, li.Close())
}

func TestListenAfterLoggerCloseFails(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	require.NoError(t, l.Close())
	bus := audit.NewBus()
	_, err := l.Listen(t.Context(), bus)
	require.ErrorIs(t, err, audit.ErrClosed)
	_, err = l.WithTenant("acme").Listen(t.Context(), bus, "things")
	require.ErrorIs(t, err, audit.ErrClosed)
	// Nothing subscribed: a message waits in the backlog.
	require.NoError(t, bus.Publish(t.Context(), "things", listenEvent("a")))
	require.Len(t, listenTakeBacklog(t, bus), 1)
}

func TestListenRejectsBadArguments(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	_, err := l.Listen(t.Context(), nil)
	require.Error(t, err)

	bus := audit.NewBus()
	_, err = l.Listen(t.Context(), bus, "")
	require.Error(t, err, "empty topic")
	_, err = bus.Subscribe(t.Context(), "")
	require.Error(t, err)
}

func TestBusPublishRejectsInvalidTopic(t *testing.T) {
	t.Parallel()
	bus := audit.NewBus()
	require.Error(t, bus.Publish(t.Context(), "", listenEvent("a")))
	require.Error(t, bus.Publish(t.Context(), audit.AllTopics, listenEvent("a")))
	require.Empty(t, listenTakeBacklog(t, bus), "nothing queued")
}

// listenFailingSub fails to subscribe to topic "bad".
type listenFailingSub struct {
	canceled chan struct{}
}

var errListenSubscribe = errors.New("subscribe failed")

func (s *listenFailingSub) Subscribe(ctx context.Context, topic string) (<-chan *audit.Message, error) {
	if topic == "bad" {
		return nil, errListenSubscribe
	}
	out := make(chan *audit.Message)
	go func() {
		<-ctx.Done()
		close(out)
		close(s.canceled)
	}()
	return out, nil
}

func TestListenSubscribeErrorUndoes(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	sub := &listenFailingSub{canceled: make(chan struct{})}
	li, err := l.Listen(t.Context(), sub, "good", "bad")
	require.ErrorIs(t, err, errListenSubscribe)
	require.Nil(t, li)
	listenRecv(t, sub.canceled) // the subscription made before is ended
}

func TestListenTenantScoped(t *testing.T) {
	t.Parallel()
	var handled listenErrors
	l, _ := setup(t, audit.WithErrorHandler(handled.handle))
	acme := l.WithTenant("acme")
	bus := audit.NewBus()
	li, err := acme.Listen(t.Context(), bus)
	require.NoError(t, err)
	other := listenEvent("other")
	other.Tenant = "globex"
	require.NoError(t, bus.Publish(t.Context(), "things", listenEvent("mine")))
	require.NoError(t, bus.Publish(t.Context(), "things", other))
	require.NoError(t, li.Close())

	events := listenAllEvents(t, acme)
	require.Len(t, events, 1)
	require.Equal(t, "acme", events[0].Tenant)
	require.Equal(t, "mine", events[0].Resource.ID)
	require.Equal(t, 0, listenTotal(t, l))
	require.Equal(t, 0, listenTotal(t, l.WithTenant("globex")))
	msgs, errs := handled.snapshot()
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], audit.ErrInvalidEvent)
	require.Equal(t, "other", msgs[0].Event.Resource.ID)
}

// listenSlowSub subscribes to bus only once released, as an adapter that
// connects to a remote broker would.
type listenSlowSub struct {
	bus     *audit.Bus
	entered chan struct{}
	release chan struct{}
}

// SupportsAllTopics reports what the bus it wraps does.
func (s *listenSlowSub) SupportsAllTopics() bool { return s.bus.SupportsAllTopics() }

func (s *listenSlowSub) Subscribe(ctx context.Context, topic string) (<-chan *audit.Message, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.bus.Subscribe(ctx, topic)
}

func TestListenRacingLoggerClose(t *testing.T) {
	t.Parallel()
	var handled listenErrors
	l, _ := setup(t, audit.WithErrorHandler(handled.handle))
	bus := audit.NewBus()
	sub := &listenSlowSub{bus: bus, entered: make(chan struct{}, 1), release: make(chan struct{})}
	type result struct {
		li  *audit.Listener
		err error
	}
	listened := make(chan result, 1)
	go func() {
		li, err := l.Listen(t.Context(), sub)
		listened <- result{li, err}
	}()
	listenRecv(t, sub.entered) // Listen is past its first check, subscribing
	require.NoError(t, l.Close())
	close(sub.release)
	res := listenRecv(t, listened)

	// Logger.Close has returned: Listen must not leave a listener running
	// on the closed log (it could only Nack every message, forever).
	require.ErrorIs(t, res.err, audit.ErrClosed)
	require.Nil(t, res.li)
	require.NoError(t, bus.Publish(t.Context(), "things", listenEvent("after-close")))
	backlog := listenTakeBacklog(t, bus)
	require.Len(t, backlog, 1, "no subscription may be left")
	_, errs := handled.snapshot()
	require.Empty(t, errs)
}

func TestListenRestartAfterStoreFailures(t *testing.T) {
	t.Parallel()
	store := &listenFlakyStore{SQLiteStore: listenSQLite(t)}
	store.failures.Store(1 << 30) // fails until told otherwise
	var handled listenErrors
	l := listenNew(t, store, audit.WithErrorHandler(handled.handle), audit.WithListenerWorkers(4))
	bus := audit.NewBus()
	li, err := l.Listen(t.Context(), bus)
	require.NoError(t, err)
	keys := listenKeys("ev", 100)
	listenPublish(t, bus, "things", keys, 4)
	// Every message fails, and the error handler hears of it once; Close
	// hands back to the bus those it could not record.
	require.Eventually(t, func() bool {
		_, errs := handled.snapshot()
		return len(errs) > 0
	}, listenWaitFor, listenTick)
	require.NoError(t, li.Close())
	require.Equal(t, 0, listenTotal(t, l))
	_, errs := handled.snapshot()
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], audit.ErrRetrying)
	require.ErrorIs(t, errs[0], errListenInjected)

	// Once the store works again, the next listener records them all.
	store.failures.Store(0)
	li, err = l.Listen(t.Context(), bus)
	require.NoError(t, err)
	require.NoError(t, li.Close())
	counts := listenKeyCounts(t, l)
	require.Len(t, counts, len(keys))
	requireListenedOnce(t, counts, keys)
	require.Empty(t, listenTakeBacklog(t, bus))
}

// TestListenZeroValues: a Message written as a literal (as an adapter
// might) and a zero Bus work.
func TestListenZeroValues(t *testing.T) {
	t.Parallel()
	m := &audit.Message{ID: "m", Topic: "t", Event: audit.Event{Action: "a.b"}}
	require.True(t, m.Ack())
	require.False(t, m.Nack())
	<-m.Acked()

	l, _ := setup(t)
	var bus audit.Bus
	li, err := l.Listen(t.Context(), &bus)
	require.NoError(t, err)
	require.NoError(t, bus.Publish(t.Context(), "t", audit.Event{Action: "zero.bus"}))
	require.NoError(t, li.Close())
	p, err := l.Recent(t.Context(), audit.Query{Action: "zero.bus"})
	require.NoError(t, err)
	require.Equal(t, 1, p.TotalCount)
}

// 9. Foreign buses (issue 10).

// listenTopicsSub records the topics it is asked for and delivers nothing,
// as a bus that has no topic "*" would.
type listenTopicsSub struct {
	mu     sync.Mutex
	topics []string
}

func (s *listenTopicsSub) Subscribe(ctx context.Context, topic string) (<-chan *audit.Message, error) {
	s.mu.Lock()
	s.topics = append(s.topics, topic)
	s.mu.Unlock()
	out := make(chan *audit.Message)
	go func() { <-ctx.Done(); close(out) }()
	return out, nil
}

func (s *listenTopicsSub) subscribed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.topics...)
}

// listenAllTopicsSub says whether it supports AllTopics, as a wrapper
// reports what the subscriber it wraps does.
type listenAllTopicsSub struct {
	listenTopicsSub
	all bool
}

func (s *listenAllTopicsSub) SupportsAllTopics() bool { return s.all }

// TestListenAllTopicsNeedsASubscriberThatCan: with no topics (or AllTopics
// named), Listen on a subscriber that cannot mean "every topic" fails and
// subscribes to nothing, instead of subscribing to the literal "*" and
// recording nothing (issue 10: 100 published, 0 recorded, no error).
func TestListenAllTopicsNeedsASubscriberThatCan(t *testing.T) {
	t.Parallel()
	l, _ := setup(t)
	for _, tc := range []struct {
		name   string
		topics []string
	}{
		{"no topics", nil},
		{"AllTopics", []string{audit.AllTopics}},
		{"AllTopics among others", []string{"things", audit.AllTopics}},
	} {
		for _, sub := range []interface {
			audit.Subscriber
			subscribed() []string
		}{&listenTopicsSub{}, &listenAllTopicsSub{all: false}} {
			li, err := l.Listen(t.Context(), sub, tc.topics...)
			require.ErrorIs(t, err, audit.ErrAllTopicsUnsupported, tc.name)
			require.Nil(t, li)
			require.Equal(t, "audit: listen: subscriber cannot subscribe to all topics: name the topics to listen on", err.Error())
			require.Empty(t, sub.subscribed(), "%s: nothing subscribed", tc.name)
		}
	}

	// Named topics work on any subscriber.
	sub := &listenTopicsSub{}
	li, err := l.Listen(t.Context(), sub, "things", "users")
	require.NoError(t, err)
	require.NoError(t, li.Close())
	require.ElementsMatch(t, []string{"things", "users"}, sub.subscribed())

	// A subscriber that says it can gets AllTopics.
	all := &listenAllTopicsSub{all: true}
	li, err = l.Listen(t.Context(), all)
	require.NoError(t, err)
	require.NoError(t, li.Close())
	require.Equal(t, []string{audit.AllTopics}, all.subscribed())

	// So does the Bus (see TestListenAllTopicsByDefault).
	var _ audit.AllTopicsSubscriber = audit.NewBus()
	require.True(t, audit.NewBus().SupportsAllTopics())
}

// listenTimedStore fails every Append while failing is set and notes when
// each was called.
type listenTimedStore struct {
	*audit.SQLiteStore
	failing atomic.Bool
	mu      sync.Mutex
	calls   []time.Time
}

func (s *listenTimedStore) Append(ctx context.Context, events []audit.Event) ([]audit.AppendResult, error) {
	s.mu.Lock()
	s.calls = append(s.calls, time.Now())
	s.mu.Unlock()
	if s.failing.Load() {
		return nil, fmt.Errorf("append %d events: %w", len(events), errListenInjected)
	}
	return s.SQLiteStore.Append(ctx, events)
}

func (s *listenTimedStore) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.calls...)
}

// TestListenBacksOffFailedWrites: on a subscriber that redelivers a Nack'ed
// message at once (as watermill's GoChannel does), a failing write is
// retried with waits that double up to a cap, never sooner than half of
// each (the jitter takes off at most half), and without a Nack; the error
// handler hears of the stretch once, and of the recovery once. Before
// issue 10 the message was Nack'ed and redelivered at once: thousands of
// attempts a second, each one reported.
func TestListenBacksOffFailedWrites(t *testing.T) {
	t.Parallel()
	const (
		first    = 2 * time.Millisecond
		limit    = 32 * time.Millisecond
		attempts = 20 // without the cap the 20th wait alone would be 17 minutes
	)
	store := &listenTimedStore{SQLiteStore: listenSQLite(t)}
	store.failing.Store(true)
	var handled listenErrors
	l := listenNew(t, store, audit.WithErrorHandler(handled.handle), audit.WithRetryBackoff(first, limit))
	sub := &listenAdapterSub{in: make(chan listenUpstream)}
	li, err := l.Listen(t.Context(), sub, "things")
	require.NoError(t, err)

	u := listenUpstream{id: "msg-1", topic: "things", ev: listenEvent("a"), sent: make(chan *audit.Message, 1<<16), done: make(chan int, 1)}
	sub.in <- u
	require.Eventually(t, func() bool { return len(store.times()) >= attempts }, listenWaitFor, listenTick)
	store.failing.Store(false)
	require.Equal(t, 0, listenRecv(t, u.done), "retried in place, never Nack'ed")
	require.Len(t, u.sent, 1, "delivered once")
	require.NoError(t, li.Close())
	require.Equal(t, map[string]int{"a": 1}, listenKeyCounts(t, l))

	calls := store.times()
	for i := 1; i < len(calls); i++ {
		wait := min(limit, first<<(i-1))
		require.GreaterOrEqual(t, calls[i].Sub(calls[i-1]), wait/2, "wait %d", i)
	}
	msgs, errs := handled.snapshot()
	require.Len(t, errs, 2, "one report for the stretch, one for the recovery: %v", errs)
	require.ErrorIs(t, errs[0], audit.ErrRetrying)
	require.ErrorIs(t, errs[0], errListenInjected)
	require.Equal(t, "msg-1", msgs[0].ID)
	require.ErrorIs(t, errs[1], audit.ErrRecovered)
	require.Nil(t, msgs[1])
	require.Contains(t, errs[1].Error(), fmt.Sprintf("after %d failed attempts", len(calls)-1))
}

// TestListenFullDiskReportedOnce: while the database is full, a listener
// on the Bus keeps its messages, says so once, and records every one of
// them, once, when there is room again.
func TestListenFullDiskReportedOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sqlite := listenSQLite(t)
	store := &listenTimedStore{SQLiteStore: sqlite}
	var handled listenErrors
	l := listenNew(t, store, audit.WithErrorHandler(handled.handle), audit.WithListenerWorkers(8))
	bus := audit.NewBus()
	li, err := l.Listen(ctx, bus, "things")
	require.NoError(t, err)
	warm := listenKeys("warm", 10)
	listenPublish(t, bus, "things", warm, 2)
	require.Eventually(t, func() bool { return listenTotal(t, l) == len(warm) }, listenWaitFor, listenTick)

	require.NoError(t, sqlite.SetMaxBytes(ctx, 1)) // no room beyond the pages it has
	keys := listenKeys("full", 300)
	listenPublish(t, bus, "things", keys, 4)
	require.Eventually(t, func() bool {
		_, errs := handled.snapshot()
		return len(errs) > 0
	}, listenWaitFor, listenTick)
	full := time.Now()
	callsAtFull := len(store.times())
	time.Sleep(time.Second) // full for a while
	failedInSecond := len(store.times()) - callsAtFull
	require.NoError(t, sqlite.SetMaxBytes(ctx, 0))
	require.Eventually(t, func() bool { return listenTotal(t, l) == len(warm)+len(keys) }, listenWaitFor, listenTick)
	require.NoError(t, li.Close())
	t.Logf("full for %v: %d failed writes in the second after the first (8 workers, default back-off)", time.Since(full).Round(time.Millisecond), failedInSecond)
	require.Less(t, failedInSecond, 200, "backed off, not a storm")

	counts := listenKeyCounts(t, l)
	require.Len(t, counts, len(warm)+len(keys))
	requireListenedOnce(t, counts, append(warm, keys...))
	msgs, errs := handled.snapshot()
	require.Len(t, errs, 2, "%v", errs)
	require.ErrorIs(t, errs[0], audit.ErrRetrying)
	require.ErrorIs(t, errs[0], audit.ErrDiskFull)
	require.NotNil(t, msgs[0])
	require.True(t, strings.HasPrefix(errs[0].Error(), "audit: listen: write failed, retrying with back-off: "), errs[0].Error())
	require.ErrorIs(t, errs[1], audit.ErrRecovered)
	require.NotErrorIs(t, errs[1], audit.ErrDiskFull)
	require.True(t, strings.HasPrefix(errs[1].Error(), "audit: listen: writes recovered after "), errs[1].Error())
	require.Empty(t, listenTakeBacklog(t, bus))
}
