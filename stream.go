package audit

import (
	"context"
	"iter"
	"sync"
	"time"
)

// rangeChunk is how many events All, Tail and Export read at a time: their
// memory, whatever the size of the log.
const rangeChunk = 500

// DefaultTailPoll is how often Tail looks for events that another process
// wrote (see WithTailPoll); events of this process wake it at once.
const DefaultTailPoll = 250 * time.Millisecond

// All returns every event q selects, in q.Order (newest first by default),
// read by keyset a chunk at a time: memory stays constant whatever the
// size of the log, and a page cursor (q.After, from a page of the same
// query) starts it where that page ended. q.Page and q.PerPage do not
// limit it. Breaking out of the loop releases everything; an error ends
// the sequence after it is yielded.
//
//	for e, err := range log.All(ctx, audit.Query{Action: "user.login"}) {
//		if err != nil {
//			return err
//		}
//		...
//	}
func (l *Logger) All(ctx context.Context, q Query) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		f, cursor, err := l.walkStart(q)
		if err != nil {
			yield(Event{}, err)
			return
		}
		for {
			events, _, err := l.c.store.Range(ctx, f, cursor, rangeChunk)
			if err != nil {
				yield(Event{}, err)
				return
			}
			for _, e := range events {
				if !yield(e, nil) {
					return
				}
				cursor = e.Seq
			}
			if len(events) < rangeChunk {
				return
			}
		}
	}
}

// walkStart validates q for a walk of everything (All, Tail, Export) and
// returns its filter and the cursor it starts after.
func (l *Logger) walkStart(q Query) (Filter, int64, error) {
	if l.denied != nil {
		return Filter{}, 0, l.denied
	}
	if l.c.isClosed() {
		return Filter{}, 0, opErr("query", ErrClosed)
	}
	q.Page = 0 // a walk does not skip by page number: a cursor starts it
	f, per, err := l.filter(q, DefaultPerPage)
	if err != nil {
		return Filter{}, 0, err
	}
	var cursor int64
	if q.After != "" {
		if cursor, _, err = decodeCursor(q.After, binding(f, l.view, per)); err != nil {
			return Filter{}, 0, err
		}
	}
	return f, cursor, nil
}

// Tail returns the events q selects with Seq > since, oldest first, and
// then each new one as it is committed, until ctx ends (the sequence then
// ends without an error). It never skips or repeats an event, however many
// writers there are: it follows the log by Seq, which commits in order.
// q.Order, q.Page, q.PerPage and q.After do not apply.
//
// Events written by this process wake it at once. Events written by
// another process on the same database arrive within the poll interval
// (DefaultTailPoll, 250 ms; WithTailPoll sets it), as does an event written
// in a caller's transaction (TrackTx), which this process sees only once
// the caller commits; on a store that hears of every process's commits (a
// Notifier, such as the PostgreSQL store), those arrive at once too, and
// the Logger holds one listening connection while any Tail runs. A store
// error ends the sequence after it is yielded.
func (l *Logger) Tail(ctx context.Context, since int64, q Query) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		q.After, q.Order = "", OldestFirst
		f, _, err := l.walkStart(q)
		if err != nil {
			yield(Event{}, err)
			return
		}
		cursor := max(since, 0)
		l.c.watch.start(l.c)
		defer l.c.watch.stop()
		poll := time.NewTicker(l.c.opts.tailPoll)
		defer poll.Stop()
		for {
			woken := l.c.commits.wait() // before reading: a commit after the read wakes us
			events, through, err := l.c.store.Range(ctx, f, cursor, rangeChunk)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				yield(Event{}, err)
				return
			}
			for _, e := range events {
				if !yield(e, nil) {
					return
				}
				cursor = e.Seq
			}
			if len(events) == rangeChunk {
				continue
			}
			// Nothing more up to the snapshot's newest event matches: go on
			// from there, not from the last match.
			cursor = max(cursor, through)
			select {
			case <-woken:
			case <-poll.C:
			case <-ctx.Done():
				return
			}
		}
	}
}

// commitSignal wakes the goroutines waiting for the next commit.
type commitSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next commit.
func (s *commitSignal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// signal wakes the waiters.
func (s *commitSignal) signal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// tailWatch listens for the commits of every process, through a store that
// is a Notifier, while at least one Tail runs, and wakes the tails at each
// (through core.commits, as a commit of this process does). One listener
// serves every tail of the log; it ends with the last tail, or at Close.
type tailWatch struct {
	mu     sync.Mutex
	tails  int
	closed bool
	cancel context.CancelFunc // ends the listener; nil when none runs
	done   chan struct{}      // closed when it has ended
}

// start counts a tail in, and starts the listener for the first one.
func (w *tailWatch) start(c *core) {
	n, ok := c.store.(Notifier)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tails++
	if w.cancel != nil || w.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go w.listen(ctx, c, n, w.done)
}

// stop counts a tail out, and ends the listener after the last one.
func (w *tailWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tails > 0 {
		w.tails--
	}
	if w.tails == 0 {
		w.end()
	}
}

// close ends the listener for good: the store is closing.
func (w *tailWatch) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.end()
}

// end stops the listener and waits for it to give its connection back.
// The caller holds w.mu.
func (w *tailWatch) end() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	<-w.done
	w.cancel, w.done = nil, nil
}

// listen wakes the tails at each notification, and once it listens (the
// commits before that are in what the tails read next). When listening
// fails it tries again after the poll interval: meanwhile the tails poll.
func (w *tailWatch) listen(ctx context.Context, c *core, n Notifier, done chan struct{}) {
	defer close(done)
	for {
		for _, err := range n.Notifications(ctx) {
			if err != nil {
				break
			}
			c.commits.signal()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.opts.tailPoll):
		}
	}
}
