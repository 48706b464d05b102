package audit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// AllTopics subscribes to every topic, on a Subscriber that can: see
// AllTopicsSubscriber.
const AllTopics = "*"

// Subscriber is a source of messages to record, shaped like watermill's
// message.Subscriber so that an adapter is a few lines.
//
// Subscribe returns a channel of the messages published on topic (every
// topic for AllTopics). The channel must be closed once ctx is done and the
// messages already handed out are settled. Each message is acknowledged
// with Ack after its event is committed, or Nack'ed to have it delivered
// again; a Subscriber must redeliver what is Nack'ed or never settled.
type Subscriber interface {
	Subscribe(ctx context.Context, topic string) (<-chan *Message, error)
}

// AllTopicsSubscriber is a Subscriber for which AllTopics means every
// topic: Subscribe(ctx, AllTopics) delivers the messages of all topics.
//
// Listen with no topics listens on AllTopics, and it does so (as it does
// with AllTopics named among its topics) only on a Subscriber that
// implements AllTopicsSubscriber and whose SupportsAllTopics reports true.
// On any other it fails with ErrAllTopicsUnsupported and subscribes to
// nothing: most buses, watermill's among them, have no such topic and
// would take "*" for the name of one more, delivering nothing and saying
// nothing. The Bus implements it. A Subscriber that wraps another reports
// what the one it wraps does.
type AllTopicsSubscriber interface {
	Subscriber
	// SupportsAllTopics reports whether Subscribe with AllTopics delivers
	// the messages of every topic.
	SupportsAllTopics() bool
}

// supportsAllTopics reports whether sub can listen on every topic.
func supportsAllTopics(sub Subscriber) bool {
	a, ok := sub.(AllTopicsSubscriber)
	return ok && a.SupportsAllTopics()
}

// Message carries an event on a bus.
type Message struct {
	// ID identifies the message: a redelivery keeps it. The listener uses
	// it as the event's idempotency key when the event has none, so that a
	// redelivered message is recorded once.
	ID    string
	Topic string
	Event Event

	chans  sync.Once // makes acked and nacked, so a Message literal works too
	once   sync.Once
	acked  chan struct{}
	nacked chan struct{}
	settle func(acked bool)
}

// NewMessage returns a message ready to be delivered to a Listener. An
// adapter for another bus waits on Acked and Nacked to settle the original.
func NewMessage(id, topic string, e Event) *Message {
	return &Message{ID: id, Topic: topic, Event: e}
}

func (m *Message) makeChans() {
	m.chans.Do(func() {
		m.acked, m.nacked = make(chan struct{}), make(chan struct{})
	})
}

// Ack reports the message handled. Only the first Ack or Nack counts; Ack
// reports whether it was this call.
func (m *Message) Ack() bool { return m.resolve(true) }

// Nack asks for the message to be delivered again. Only the first Ack or
// Nack counts; Nack reports whether it was this call.
func (m *Message) Nack() bool { return m.resolve(false) }

// Acked is closed when the message is acknowledged.
func (m *Message) Acked() <-chan struct{} { m.makeChans(); return m.acked }

// Nacked is closed when the message is negatively acknowledged.
func (m *Message) Nacked() <-chan struct{} { m.makeChans(); return m.nacked }

func (m *Message) resolve(ack bool) bool {
	m.makeChans()
	done := false
	m.once.Do(func() {
		done = true
		if ack {
			close(m.acked)
		} else {
			close(m.nacked)
		}
		if m.settle != nil {
			m.settle(ack)
		}
	})
	return done
}

// Bus is an in-process publish/subscribe bus that delivers each message at
// least once to every subscription of its topic. It implements Subscriber
// and AllTopicsSubscriber: a subscription to AllTopics takes every topic.
//
// Flow control: each subscription holds at most the bus's buffer (1024, or
// what NewBusSize says) of messages
// that are queued or delivered but not yet acknowledged. When a subscription
// is full, Publish waits for room (backpressure) until its context is done,
// and then returns the context's error: a slow listener slows publishers
// down; nothing is dropped. A message published while no subscription
// matches its topic is held in a backlog of the same size and handed to the
// first subscription that matches; when the backlog is full, Publish
// returns ErrBusFull.
type Bus struct {
	buffer  int
	backoff time.Duration

	mu      sync.Mutex
	subs    map[*subscription]struct{}
	backlog []*Message
}

// DefaultBusBuffer is the buffer of a Bus made by NewBus.
const DefaultBusBuffer = 1024

// init makes a zero Bus usable, with the defaults of NewBus; b.mu must be
// held.
func (b *Bus) init() {
	if b.subs == nil {
		b.subs = make(map[*subscription]struct{})
	}
	if b.buffer < 1 {
		b.buffer = DefaultBusBuffer
	}
	if b.backoff <= 0 {
		b.backoff = 50 * time.Millisecond
	}
}

// NewBus returns an empty bus whose subscriptions (and backlog) each hold up
// to DefaultBusBuffer unacknowledged messages.
func NewBus() *Bus { return NewBusSize(DefaultBusBuffer) }

// NewBusSize returns an empty bus whose subscriptions (and backlog) each
// hold up to buffer unacknowledged messages before Publish waits (buffer <
// 1 means 1).
func NewBusSize(buffer int) *Bus {
	return &Bus{buffer: max(1, buffer), backoff: 50 * time.Millisecond, subs: make(map[*subscription]struct{})}
}

// Publish queues e on topic for every subscription of the topic and
// returns; it does not wait for the event to be recorded. It waits while a
// subscription is full; see Bus.
//
// The event is shared with the subscriptions: do not modify it, or its
// Metadata, after Publish. If ctx ends while Publish waits, subscriptions
// served before keep the message; publishing it again makes a new message
// id, so give events an IdempotencyKey when a retry must not record twice.
func (b *Bus) Publish(ctx context.Context, topic string, e Event) error {
	if topic == "" || topic == AllTopics {
		return fmt.Errorf("audit: publish: invalid topic %q", topic)
	}
	id := newID()
	b.mu.Lock()
	b.init()
	var targets []*subscription
	for s := range b.subs {
		if s.matches(topic) {
			targets = append(targets, s)
		}
	}
	if len(targets) == 0 {
		defer b.mu.Unlock()
		if len(b.backlog) >= b.buffer {
			return opErr(fmt.Sprintf("publish on %q", topic), ErrBusFull)
		}
		b.backlog = append(b.backlog, NewMessage(id, topic, e))
		return nil
	}
	b.mu.Unlock()
	for _, s := range targets {
		if err := s.push(ctx, NewMessage(id, topic, e)); err != nil {
			return opErr(fmt.Sprintf("publish on %q", topic), err)
		}
	}
	return nil
}

// Subscribe implements Subscriber. When ctx is done the subscription takes
// no new messages, delivers those it holds until each is settled, and then
// closes the channel; a message Nack'ed after ctx is done goes back to the
// bus's backlog for the next subscription before the channel closes.
func (b *Bus) Subscribe(ctx context.Context, topic string) (<-chan *Message, error) {
	if topic == "" {
		return nil, fmt.Errorf("audit: subscribe: empty topic")
	}
	s := &subscription{bus: b, topic: topic, out: make(chan *Message), changed: make(chan struct{})}
	b.mu.Lock()
	b.init()
	kept := b.backlog[:0]
	for _, m := range b.backlog {
		if s.matches(m.Topic) {
			s.queue = append(s.queue, NewMessage(m.ID, m.Topic, m.Event))
		} else {
			kept = append(kept, m)
		}
	}
	clear(b.backlog[len(kept):])
	b.backlog = kept
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.pump()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.mu.Lock()
		s.draining = true
		s.broadcast()
		s.mu.Unlock()
	}()
	return s.out, nil
}

// SupportsAllTopics implements AllTopicsSubscriber: it reports true.
func (b *Bus) SupportsAllTopics() bool { return true }

// toBacklog keeps messages that a closed subscription could not deliver.
func (b *Bus) toBacklog(m *Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.matches(m.Topic) {
			go func() { _ = s.push(context.Background(), NewMessage(m.ID, m.Topic, m.Event)) }()
			return
		}
	}
	b.backlog = append(b.backlog, NewMessage(m.ID, m.Topic, m.Event))
}

type subscription struct {
	bus   *Bus
	topic string
	out   chan *Message

	mu       sync.Mutex
	queue    []*Message
	inflight int
	draining bool
	finished bool
	changed  chan struct{} // closed and replaced on every change
}

func (s *subscription) matches(topic string) bool {
	return s.topic == AllTopics || s.topic == topic
}

// broadcast wakes everyone waiting for a change; s.mu must be held.
func (s *subscription) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// push queues m, waiting for room.
func (s *subscription) push(ctx context.Context, m *Message) error {
	for {
		s.mu.Lock()
		if s.finished {
			s.mu.Unlock()
			s.bus.toBacklog(m)
			return nil
		}
		if len(s.queue)+s.inflight < s.bus.buffer {
			s.queue = append(s.queue, m)
			s.broadcast()
			s.mu.Unlock()
			return nil
		}
		wait := s.changed
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pump hands queued messages to the subscriber one by one and closes the
// channel once draining and nothing is left unacknowledged.
func (s *subscription) pump() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			if s.draining && s.inflight == 0 {
				s.finished = true
				s.mu.Unlock()
				close(s.out)
				return
			}
			wait := s.changed
			s.mu.Unlock()
			<-wait
			continue
		}
		m := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.inflight++
		s.mu.Unlock()
		m.settle = func(acked bool) { s.settled(m, acked) }
		s.out <- m
	}
}

// settled accounts for an acknowledged message and redelivers a Nack'ed one
// after a pause.
func (s *subscription) settled(m *Message, acked bool) {
	if acked {
		s.mu.Lock()
		s.inflight--
		s.broadcast()
		s.mu.Unlock()
		return
	}
	time.AfterFunc(s.bus.backoff, func() {
		s.mu.Lock()
		if s.draining {
			s.mu.Unlock()
			// Hand the message back to the bus before it stops counting
			// as in flight: the channel closes (and Listener.Close
			// returns) only after that, so the next subscription finds it
			// in the backlog instead of missing it. (draining never goes
			// back to false.)
			s.bus.toBacklog(m)
			s.mu.Lock()
			s.inflight--
			s.broadcast()
			s.mu.Unlock()
			return
		}
		s.inflight--
		s.queue = append([]*Message{NewMessage(m.ID, m.Topic, m.Event)}, s.queue...)
		s.broadcast()
		s.mu.Unlock()
	})
}

// Listener records the messages of a Subscriber; see Logger.Listen.
type Listener struct {
	logger *Logger
	ctx    context.Context // done once the listener stops taking messages
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	retry  retrier
}

// Listen records every message that sub delivers on topics until the
// Listener is closed or ctx is done. With no topics it listens on every
// topic, which needs a Subscriber that can (the Bus can; see
// AllTopicsSubscriber): with another it fails with ErrAllTopicsUnsupported.
//
// Each message's event is recorded with Record and acknowledged only after
// it is committed. A message whose event has no IdempotencyKey gets the
// message ID as its key, so a redelivered message is recorded once. A
// message whose write fails for a reason that may pass (the store is busy
// or full) is kept and tried again, with waits that grow from attempt to
// attempt (see WithRetryBackoff), until it is recorded, or Nack'ed for
// redelivery when the listener closes; the error handler (see
// WithErrorHandler) hears once that writes are failing and once that they
// recovered, not of every attempt. A message that can never be recorded
// (ErrInvalidEvent) is reported to the error handler and then
// acknowledged. Up to WithListenerWorkers messages are recorded at once,
// so they share transactions. Closing the Logger closes its listeners first.
//
// Events are recorded as Record records them on l: on the view of one
// tenant, into that tenant (an event naming another is refused with
// ErrInvalidEvent and reported); on the root logger and the AllTenants
// view, into the tenant each event names. A logger opened WithReadOnly
// does not listen: Listen fails with an error wrapping ErrReadOnly.
func (l *Logger) Listen(ctx context.Context, sub Subscriber, topics ...string) (*Listener, error) {
	if l.denied != nil {
		return nil, l.denied
	}
	if err := l.c.refuseWrite("listen"); err != nil {
		return nil, err
	}
	if sub == nil {
		return nil, fmt.Errorf("audit: listen: nil subscriber")
	}
	if len(topics) == 0 {
		topics = []string{AllTopics}
	}
	if slices.Contains(topics, "") {
		return nil, fmt.Errorf("audit: listen: empty topic")
	}
	if slices.Contains(topics, AllTopics) && !supportsAllTopics(sub) {
		return nil, opErr("listen", fmt.Errorf("%w: name the topics to listen on", ErrAllTopicsUnsupported))
	}
	if l.c.isClosed() {
		return nil, opErr("listen", ErrClosed)
	}
	lctx, cancel := context.WithCancel(ctx)
	li := &Listener{logger: l, ctx: lctx, cancel: cancel}
	li.retry.init(l.c.opts)
	// One forwarder per topic feeds one pool of workers; work closes when
	// every subscription's channel has.
	work := make(chan *Message)
	for range l.c.opts.workers {
		li.wg.Add(1)
		go li.work(work)
	}
	var feeding sync.WaitGroup
	stop := func() {
		cancel()
		feeding.Wait()
		close(work)
		li.wg.Wait()
	}
	for _, topic := range topics {
		ch, err := sub.Subscribe(lctx, topic)
		if err != nil {
			stop()
			return nil, opErr(fmt.Sprintf("listen on %q", topic), err)
		}
		feeding.Go(func() {
			for m := range ch {
				work <- m
			}
		})
	}
	li.wg.Add(1)
	go func() { defer li.wg.Done(); feeding.Wait(); close(work) }()
	// Logger.Close may have closed the log's listeners while we were
	// subscribing; this one would then outlive it, Nack'ing every message
	// with ErrClosed forever. Undo it instead.
	if !l.c.addListener(li) {
		cancel()
		li.wg.Wait()
		return nil, opErr("listen", ErrClosed)
	}
	return li, nil
}

func (li *Listener) work(ch <-chan *Message) {
	defer li.wg.Done()
	for m := range ch {
		li.handle(m)
	}
}

// handle records m and settles it: Ack once recorded, or once reported
// when it never can be; a write that fails for a passing reason is tried
// again after a pause, until the listener stops (then m is Nack'ed).
func (li *Listener) handle(m *Message) {
	e := m.Event
	if e.IdempotencyKey == "" {
		e.IdempotencyKey = m.ID
	}
	report := li.logger.c.opts.errorHandler
	for failures := 0; ; failures++ {
		// Not the listener's context: a message taken must be settled, and
		// one that arrives while the listener closes is still recorded.
		_, err := li.logger.Record(context.Background(), e)
		switch {
		case err == nil:
			li.retry.leave(failures > 0, true)
			m.Ack()
			return
		case errors.Is(err, ErrInvalidEvent):
			li.retry.leave(failures > 0, false)
			report(m, err)
			m.Ack()
			return
		}
		wake := li.retry.fail(m, err, failures == 0)
		if !li.pause(li.retry.backoff(failures+1), wake) {
			li.retry.leave(true, false)
			m.Nack()
			return
		}
	}
}

// pause waits d, or until wake is closed, and reports true; or false at
// once when the listener stops.
func (li *Listener) pause(d time.Duration, wake <-chan struct{}) bool {
	if li.ctx.Err() != nil {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-wake:
		return true
	case <-li.ctx.Done():
		return false
	}
}

// retrier paces a listener's retries and tells the error handler about
// stretches of failed writes. A stretch starts when a write fails outside
// of one, and ends when a write succeeds while no message is left to
// retry: the handler hears of both, and of nothing in between. (A message
// handed back when the listener closes, or found invalid, leaves the
// retries without ending the stretch.)
type retrier struct {
	first, limit time.Duration
	report       func(*Message, error)
	failing      atomic.Bool // in a stretch; read without mu on the way out

	mu       sync.Mutex
	retrying int           // messages whose last write failed
	attempts int           // failed writes in this stretch
	since    time.Time     // when this stretch started
	cause    error         // its first failure
	wake     chan struct{} // closed when a retried message is recorded
}

func (r *retrier) init(o options) {
	r.first, r.limit, r.report = o.retryFirst, o.retryLimit, o.errorHandler
	r.wake = make(chan struct{})
}

// backoff returns the pause after a message's nth failed write (n >= 1):
// first doubled n-1 times, at most limit, less a random part of up to a
// half (jitter).
func (r *retrier) backoff(n int) time.Duration {
	d := r.limit
	if n < 63 && r.first < r.limit>>(n-1) {
		d = r.first << (n - 1)
	}
	return d - rand.N(d/2+1)
}

// fail accounts for a failed write of m (its first when first) and returns
// the channel closed when a retried message is next recorded.
func (r *retrier) fail(m *Message, err error, first bool) <-chan struct{} {
	r.mu.Lock()
	if first {
		r.retrying++
	}
	start := !r.failing.Load()
	if start {
		r.failing.Store(true)
		r.attempts, r.since, r.cause = 0, time.Now(), err
	}
	r.attempts++
	wake := r.wake
	r.mu.Unlock()
	if start {
		r.report(m, &retryError{cause: err})
	}
	return wake
}

// leave accounts for a message that is settled: recorded or not; retried
// tells whether a write of it had failed.
func (r *retrier) leave(retried, recorded bool) {
	if !retried && !r.failing.Load() {
		return // the common case: no lock
	}
	r.mu.Lock()
	if retried {
		r.retrying--
		if recorded {
			// The store works again: the others need not wait out their
			// pause.
			close(r.wake)
			r.wake = make(chan struct{})
		}
	}
	var done *retryError
	if recorded && r.retrying == 0 && r.failing.Load() {
		r.failing.Store(false)
		done = &retryError{cause: r.cause, recovered: true, attempts: r.attempts, took: time.Since(r.since)}
	}
	r.mu.Unlock()
	if done != nil {
		r.report(nil, done)
	}
}

// retryError is what the error handler hears of a stretch of failed writes:
// that it started (wrapping ErrRetrying and the first failure), or that it
// ended with writes recovered (wrapping ErrRecovered only, so that a
// handler looking for ErrDiskFull, say, does not take the recovery for one
// more failure).
type retryError struct {
	cause     error
	recovered bool
	attempts  int
	took      time.Duration
}

func (e *retryError) Error() string {
	cause := strings.TrimPrefix(e.cause.Error(), "audit: ")
	if e.recovered {
		return fmt.Sprintf("audit: listen: writes recovered after %d failed attempts in %v (the first: %s)", e.attempts, e.took.Round(time.Millisecond), cause)
	}
	return "audit: listen: write failed, retrying with back-off: " + cause
}

func (e *retryError) Unwrap() []error {
	if e.recovered {
		return []error{ErrRecovered}
	}
	return []error{ErrRetrying, e.cause}
}

// Close stops taking new messages and returns once every message the
// subscriber delivers before its channel closes has been settled: with a
// Bus, every message published before Close was called has then been
// recorded, except one that failed for a passing reason while closing
// (it went back to the bus's backlog for the next subscription) or could
// never be recorded (it was reported to the error handler). Close is
// idempotent.
func (li *Listener) Close() error {
	li.once.Do(func() {
		li.cancel()
		li.wg.Wait()
		li.logger.c.removeListener(li)
	})
	return nil
}

// addListener registers li to be closed by Logger.Close. It reports false,
// registering nothing, once closeListeners has run: c.closed is only set
// after that, so checking it is not enough.
func (c *core) addListener(li *Listener) bool {
	c.listenMu.Lock()
	defer c.listenMu.Unlock()
	if c.listenersClosed {
		return false
	}
	if c.listeners == nil {
		c.listeners = make(map[*Listener]struct{})
	}
	c.listeners[li] = struct{}{}
	return true
}

func (c *core) removeListener(li *Listener) {
	c.listenMu.Lock()
	defer c.listenMu.Unlock()
	delete(c.listeners, li)
}

// closeListeners closes every listener of the log, before the writer stops,
// and makes addListener refuse new ones.
func (c *core) closeListeners() {
	c.listenMu.Lock()
	ls := make([]*Listener, 0, len(c.listeners))
	for li := range c.listeners {
		ls = append(ls, li)
	}
	c.listenersClosed = true
	c.listenMu.Unlock()
	for _, li := range ls {
		_ = li.Close()
	}
}
