package watermill_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	auditwm "github.com/trailkit/audit/watermill"
)

// Generous bounds for waits that cannot be avoided: they only fire when
// something hangs.
const (
	waitFor = 120 * time.Second
	tick    = 10 * time.Millisecond
)

// countingStore counts the Append calls that fail, and can hold each
// Append until released.
type countingStore struct {
	*audit.SQLiteStore
	failed atomic.Int64
	gate   atomic.Pointer[storeGate]
}

type storeGate struct {
	entered chan struct{}
	release chan struct{}
}

func (s *countingStore) Append(ctx context.Context, events []audit.Event) ([]audit.AppendResult, error) {
	if g := s.gate.Load(); g != nil {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-g.release
	}
	res, err := s.SQLiteStore.Append(ctx, events)
	if err != nil {
		s.failed.Add(1)
	}
	return res, err
}

// handled collects what an error handler is told.
type handled struct {
	mu     sync.Mutex
	topics []string
	msgs   []string // message UUIDs or IDs; "" for none
	errs   []error
}

func (h *handled) add(topic, msg string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.topics = append(h.topics, topic)
	h.msgs = append(h.msgs, msg)
	h.errs = append(h.errs, err)
}

// logger is the logger's handler.
func (h *handled) logger(m *audit.Message, err error) {
	if m == nil {
		h.add("", "", err)
		return
	}
	h.add(m.Topic, m.ID, err)
}

// adapter is the adapter's handler.
func (h *handled) adapter(topic string, m *message.Message, err error) {
	if m == nil {
		h.add(topic, "", err)
		return
	}
	h.add(topic, m.UUID, err)
}

func (h *handled) snapshot() (topics, msgs []string, errs []error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.topics...), append([]string(nil), h.msgs...), append([]error(nil), h.errs...)
}

func (h *handled) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.errs)
}

// testLog is an audit log on a SQLite file for one test.
type testLog struct {
	*audit.Logger
	store   *countingStore
	path    string
	handled *handled // the logger's error handler
}

func newLog(t *testing.T, opts ...audit.Option) *testLog {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := audit.OpenSQLite(t.Context(), path)
	require.NoError(t, err)
	tl := &testLog{store: &countingStore{SQLiteStore: s}, path: path, handled: &handled{}}
	l, err := audit.New(tl.store, append([]audit.Option{audit.WithErrorHandler(tl.handled.logger)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	tl.Logger = l
	return tl
}

// total is the number of events in every tenant of l.
func total(t *testing.T, l *audit.Logger) int {
	t.Helper()
	p, err := l.AllTenants().Recent(t.Context(), audit.Query{PerPage: 1})
	require.NoError(t, err)
	return p.TotalCount
}

func waitTotal(t *testing.T, l *audit.Logger, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return total(t, l) >= n }, waitFor, tick)
	require.Equal(t, n, total(t, l))
}

// allEvents reads every event of every tenant of l.
func allEvents(t *testing.T, l *audit.Logger) []audit.Event {
	t.Helper()
	var all []audit.Event
	q := audit.Query{PerPage: audit.MaxPerPage}
	for {
		p, err := l.AllTenants().Recent(t.Context(), q)
		require.NoError(t, err)
		all = append(all, p.Entries...)
		if p.Next == "" {
			require.Len(t, all, p.TotalCount)
			return all
		}
		q.After = p.Next
	}
}

var baseTime = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// testEvent is the ith event of a test: its resource ID is key, and it
// fills every field that a publisher sets, with numbers that float64
// would round.
func testEvent(key string, i int) audit.Event {
	e := audit.Event{
		Action:   []string{"invoice.sent", "user.login", "project.deleted"}[i%3],
		Actor:    audit.Ref{Type: "user", ID: fmt.Sprint(i % 17), Name: "Zoë ☃ " + fmt.Sprint(i%17)},
		Resource: audit.Ref{Type: "invoice", ID: key, Name: "Invoice " + key},
		Metadata: map[string]any{
			"i":      json.Number(fmt.Sprint(i)),
			"amount": json.Number(fmt.Sprintf("1234567890123456%04d", i%10000)), // beyond float64's 2^53
			"ratio":  json.Number("2.5"),
			"note":   "naïve \"quoted\" \n line",
			"nested": map[string]any{"list": []any{json.Number("1"), "x", true, nil}},
		},
		OccurredAt: baseTime.Add(time.Duration(i) * time.Millisecond),
	}
	if i%4 == 0 {
		e.Tenant = "acme"
	}
	if i%5 == 0 {
		e.Targets = []audit.Ref{{Type: "account", ID: "acct-" + fmt.Sprint(i%3)}, {Type: "team", ID: "t"}}
	}
	if i%7 == 0 {
		e.Outcome = audit.OutcomeFailure
	}
	return e
}

// published is what a test published: the events by key, and their
// message UUIDs.
type published struct {
	topic  string
	events map[string]audit.Event
	uuids  map[string]string
	keys   []string
}

// prepare makes n test events keyed prefix-i into messages for topic.
func prepare(t *testing.T, topic, prefix string, n int) (*published, []*message.Message) {
	t.Helper()
	p := &published{topic: topic, events: make(map[string]audit.Event, n), uuids: make(map[string]string, n)}
	msgs := make([]*message.Message, 0, n)
	for i := range n {
		key := fmt.Sprintf("%s-%05d", prefix, i)
		e := testEvent(key, i)
		m, err := auditwm.NewMessage(e)
		require.NoError(t, err)
		p.events[key], p.uuids[key] = e, m.UUID
		p.keys = append(p.keys, key)
		msgs = append(msgs, m)
	}
	return p, msgs
}

// publish publishes n test events keyed prefix-i on topic.
func publish(t *testing.T, pub message.Publisher, topic, prefix string, n int) *published {
	t.Helper()
	p, msgs := prepare(t, topic, prefix, n)
	for start := 0; start < len(msgs); start += 500 {
		require.NoError(t, pub.Publish(topic, msgs[start:min(start+500, len(msgs))]...))
	}
	return p
}

// requireRecordedOnce checks, field by field, that l holds each published
// event exactly once, and nothing else.
func requireRecordedOnce(t *testing.T, l *audit.Logger, pubs ...*published) {
	t.Helper()
	got := make(map[string][]audit.Event)
	for _, e := range allEvents(t, l) {
		got[e.Resource.ID] = append(got[e.Resource.ID], e)
	}
	n := 0
	for _, p := range pubs {
		for _, key := range p.keys {
			n++
			es := got[key]
			require.Len(t, es, 1, "event %s must be recorded exactly once", key)
			want, e := p.events[key], es[0]
			require.Equal(t, want.Tenant, e.Tenant, key)
			require.Equal(t, want.Action, e.Action, key)
			require.Equal(t, want.Actor, e.Actor, key)
			require.Equal(t, want.Resource, e.Resource, key)
			require.Equal(t, want.Targets, e.Targets, key)
			wantOutcome := want.Outcome
			if wantOutcome == "" {
				wantOutcome = audit.OutcomeSuccess
			}
			require.Equal(t, wantOutcome, e.Outcome, key)
			require.Equal(t, want.Metadata, e.Metadata, key)
			require.True(t, want.OccurredAt.Equal(e.OccurredAt), "%s: occurred_at %v, want %v", key, e.OccurredAt, want.OccurredAt)
			require.Equal(t, p.topic+":"+p.uuids[key], e.IdempotencyKey, key)
			require.NotEmpty(t, e.ID)
			require.NotZero(t, e.Seq)
			require.False(t, e.RecordedAt.IsZero())
		}
	}
	require.Len(t, got, n, "nothing else is recorded")
}

// tap sits between a watermill subscriber and the adapter, as a
// message.Subscriber: it hands on a copy of each message, waits until the
// copy is settled and settles the original alike, counting deliveries
// and settlements by UUID. It can lose the first ack of chosen messages
// (Nack the original instead, as when an ack never reaches the broker),
// and counts the messages handed on but not yet settled when their
// subscription's context ends: watermill may drop those.
type tap struct {
	message.Subscriber
	lose func(uuid string) bool

	mu          sync.Mutex
	delivered   map[string]int
	acked       map[string]int
	nacked      map[string]int
	lost        map[string]bool
	outstanding map[*message.Message]bool
	early       int // unsettled when the subscription's context ended
	ackCount    int
}

func newTap(sub message.Subscriber) *tap {
	return &tap{Subscriber: sub, delivered: map[string]int{}, acked: map[string]int{}, nacked: map[string]int{}, lost: map[string]bool{}, outstanding: map[*message.Message]bool{}}
}

func (tp *tap) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := tp.Subscriber.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		for c := range tp.outstanding {
			select {
			case <-c.Acked():
			case <-c.Nacked():
			default:
				tp.early++
			}
		}
	})
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for m := range in {
			c := m.Copy()
			c.SetContext(m.Context())
			tp.mu.Lock()
			tp.delivered[m.UUID]++
			tp.outstanding[c] = true
			tp.mu.Unlock()
			select {
			case out <- c:
			case <-ctx.Done():
				tp.mu.Lock()
				delete(tp.outstanding, c)
				tp.mu.Unlock()
				m.Nack()
				continue
			}
			var ack bool
			select {
			case <-c.Acked():
				ack = true
			case <-c.Nacked():
			}
			tp.mu.Lock()
			delete(tp.outstanding, c)
			if ack && tp.lose != nil && !tp.lost[m.UUID] && tp.lose(m.UUID) {
				tp.lost[m.UUID] = true
				ack = false
			}
			if ack {
				tp.acked[m.UUID]++
				tp.ackCount++
			} else {
				tp.nacked[m.UUID]++
			}
			tp.mu.Unlock()
			if ack {
				m.Ack()
			} else {
				m.Nack()
			}
		}
	}()
	return out, nil
}

func (tp *tap) acks() int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.ackCount
}

func (tp *tap) unsettledAtEnd() int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.early
}

func (tp *tap) counts(uuid string) (delivered, acked, nacked int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.delivered[uuid], tp.acked[uuid], tp.nacked[uuid]
}

// goChannel returns a GoChannel closed when the test ends.
func goChannel(t *testing.T, persistent bool) *gochannel.GoChannel {
	t.Helper()
	gc := gochannel.NewGoChannel(gochannel.Config{Persistent: persistent}, wm.NopLogger{})
	t.Cleanup(func() { _ = gc.Close() })
	return gc
}

// modes are the GoChannel configurations every test runs on.
var modes = []struct {
	name       string
	persistent bool
}{{"plain", false}, {"persistent", true}}
