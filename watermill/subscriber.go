package watermill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/trailkit/audit"
)

// Errors reported to the error handler (see WithErrorHandler) or returned.
var (
	// ErrUnmappable is wrapped, with the cause, by the error reported for
	// a message that can never become an event: its payload is not what
	// its topic's mapping reads, or the mapping refused it. The message is
	// acknowledged once the handler returns, so that it is not delivered
	// again forever.
	ErrUnmappable = errors.New("audit: message cannot become an event")
	// ErrSkip, returned or wrapped by a Mapping, acknowledges the message
	// without recording or reporting anything: for the messages of a topic
	// that are not worth auditing.
	ErrSkip = errors.New("audit: message skipped")
	// ErrSubscriptionEnded is reported when watermill closes the channel
	// of a subscription by itself (its subscriber was closed) while the
	// listener runs: the listener takes nothing more from that topic.
	ErrSubscriptionEnded = errors.New("audit: watermill subscription ended")
)

// Mapping turns a watermill message into the event to record. It may read
// the message's payload, metadata, UUID and context, and must neither
// keep nor change the message. It is called for one message at a time per
// subscription, but for several subscriptions at once.
//
// An error means that the message can never become an event: it is
// reported (wrapped with ErrUnmappable) and acknowledged, unless it is
// ErrSkip. The event returned is recorded as Logger.Record records it: one
// that Record refuses (ErrInvalidEvent) goes to the logger's own error
// handler, then is acknowledged. An event with no IdempotencyKey gets the
// message's (see NewSubscriber).
type Mapping func(msg *message.Message) (audit.Event, error)

// Option configures the subscriber made by NewSubscriber.
type Option func(*options)

type options struct {
	mappings map[string]Mapping
	report   func(topic string, msg *message.Message, err error)
}

// WithMapping makes the messages of topic become events through m instead
// of DecodeEvent: for a topic that carries your own domain events. A
// later WithMapping for the same topic replaces an earlier one; a nil m
// restores DecodeEvent.
func WithMapping(topic string, m Mapping) Option {
	return func(o *options) {
		if m == nil {
			delete(o.mappings, topic)
			return
		}
		o.mappings[topic] = m
	}
}

// WithErrorHandler sets the function told about what only the adapter
// sees: a message that can never become an event (ErrUnmappable; the
// message is acknowledged once h returns) and a subscription that
// watermill ended by itself (ErrSubscriptionEnded; msg is nil). The
// default logs with log/slog. Errors of the log itself (invalid events,
// failing writes) go to the logger's handler (audit.WithErrorHandler).
// h may be called from several goroutines at once.
func WithErrorHandler(h func(topic string, msg *message.Message, err error)) Option {
	return func(o *options) { o.report = h }
}

// NewSubscriber returns an audit.Subscriber, for Logger.Listen, that
// receives the messages of sub.
//
// Each message becomes an audit.Message whose event is what the topic's
// mapping makes of it (DecodeEvent unless WithMapping says otherwise),
// and whose ID, used as the event's idempotency key when the event has
// none, is the topic and the message UUID: "<topic>:<UUID>", with any
// backslash or colon in the topic escaped by a backslash. The same UUID on
// two topics is two events; a redelivery is one. A message with an empty
// UUID gets no key, and may be recorded more than once if it is delivered
// more than once.
//
// The watermill message is acknowledged once its event is committed (or
// it is reported and can never be), and Nack'ed when the listener hands
// it back as it closes. Closing waits for that: the watermill subscription
// is given a context of its own, ended only once every message handed to
// the listener is settled, because watermill closes a subscription's
// channel as soon as its context ends, and GoChannel drops what is in
// flight then.
//
// Listen cannot listen on every topic of a watermill subscriber (watermill
// has no such topic): name the topics. Subscribe fails for an empty topic
// and for audit.AllTopics.
//
// NewSubscriber panics if sub is nil: that is a programming error.
func NewSubscriber(sub message.Subscriber, opts ...Option) audit.Subscriber {
	if sub == nil {
		panic("audit: watermill: NewSubscriber with a nil subscriber")
	}
	o := options{mappings: make(map[string]Mapping)}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if o.report == nil {
		o.report = func(topic string, msg *message.Message, err error) {
			uuid := ""
			if msg != nil {
				uuid = msg.UUID
			}
			slog.Error("audit watermill", "topic", topic, "message", uuid, "err", err)
		}
	}
	return &subscriber{sub: sub, opts: o}
}

type subscriber struct {
	sub  message.Subscriber
	opts options
}

// Subscribe implements audit.Subscriber.
func (s *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *audit.Message, error) {
	switch topic {
	case "":
		return nil, errors.New("audit: watermill: subscribe: empty topic")
	case audit.AllTopics:
		return nil, opErr(fmt.Sprintf("subscribe to %q", topic), audit.ErrAllTopicsUnsupported)
	}
	// Not ctx: watermill would close the channel, and drop what is in
	// flight, as soon as ctx ends. Values pass through.
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	in, err := s.sub.Subscribe(wctx, topic)
	if err != nil {
		stop()
		return nil, opErr(fmt.Sprintf("subscribe to %q", topic), err)
	}
	mapping := s.opts.mappings[topic]
	if mapping == nil {
		mapping = DecodeEvent
	}
	out := make(chan *audit.Message)
	go s.forward(ctx, topic, mapping, in, out, stop)
	return out, nil
}

// forward hands the messages of in to out until ctx ends or in closes,
// then waits until every message handed out is settled, ends the
// watermill subscription and closes out.
func (s *subscriber) forward(ctx context.Context, topic string, mapping Mapping, in <-chan *message.Message, out chan<- *audit.Message, stop context.CancelFunc) {
	var pending sync.WaitGroup
	defer func() {
		pending.Wait()
		stop()
		close(out)
	}()
	for ctx.Err() == nil {
		var msg *message.Message
		select {
		case <-ctx.Done():
			return
		case m, ok := <-in:
			if !ok {
				if ctx.Err() == nil {
					s.opts.report(topic, nil, opErr(fmt.Sprintf("subscription to %q", topic), ErrSubscriptionEnded))
				}
				return
			}
			msg = m
		}
		e, err := mapping(msg)
		if err != nil {
			if !errors.Is(err, ErrSkip) {
				s.opts.report(topic, msg, opErr(fmt.Sprintf("map message %s on %q", msg.UUID, topic), fmt.Errorf("%w: %w", ErrUnmappable, err)))
			}
			msg.Ack()
			continue
		}
		am := audit.NewMessage(messageID(topic, msg.UUID), topic, e)
		select {
		case out <- am:
		case <-ctx.Done():
			msg.Nack()
			return
		}
		pending.Go(func() {
			select {
			case <-am.Acked():
				msg.Ack()
			case <-am.Nacked():
				msg.Nack()
			}
		})
	}
}

// messageID is the ID of the audit message for the watermill message
// uuid on topic: "<topic>:<uuid>", the topic's backslashes and colons
// escaped so that no two pairs give one ID; "" when uuid is.
func messageID(topic, uuid string) string {
	if uuid == "" {
		return ""
	}
	return topicEscaper.Replace(topic) + ":" + uuid
}

var topicEscaper = strings.NewReplacer(`\`, `\\`, `:`, `\:`)

// opError is an error of the adapter: "audit: watermill: <op>: <cause>",
// naming the package once; errors.Is and errors.As see the cause.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	return "audit: watermill: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "audit: ")
}

func (e *opError) Unwrap() error { return e.err }

func opErr(op string, err error) error { return &opError{op: op, err: err} }
