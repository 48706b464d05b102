// Package watermill records the messages of a watermill subscriber in an
// audit log: NewSubscriber adapts any message.Subscriber (GoChannel, SQL,
// Kafka, NATS, ...) to audit.Subscriber, for Logger.Listen.
//
//	sub := auditwm.NewSubscriber(pubSub) // import auditwm "github.com/trailkit/audit/watermill"
//	li, err := log.Listen(ctx, sub, "audit.events")
//	defer li.Close()
//
// A message's payload is, by default, the JSON form of an audit.Event
// (see DecodeEvent and NewMessage); WithMapping turns the messages of a
// topic that carry your own domain events into audit events instead,
// reading their payload and metadata, so that you audit them without
// publishing them twice.
//
// # Exactly once
//
// Each message is acknowledged to watermill only after its event is
// committed, and its event gets the idempotency key "<topic>:<UUID>"
// unless it has one of its own, so a message that watermill delivers
// again (its ack was lost, the consumer was killed, another listener
// got it too) is recorded once. A message that can never become an event
// is reported to the error handler once and acknowledged; a write that
// fails for a reason that may pass is retried by the listener, backing
// off, and the message is held meanwhile. What watermill itself drops is
// out of reach: GoChannel without persistence discards the messages
// published while nobody subscribes, and those still queued for a
// subscription when it closes. See the README for the details.
package watermill
