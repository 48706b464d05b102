package watermill

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/trailkit/audit"
)

// DecodeEvent is the mapping of every topic without WithMapping: the
// message's payload is the JSON form of an audit.Event (encoding/json's,
// as NewMessage makes it), decoded with numbers kept exact: a number in
// Metadata becomes a json.Number, so that a 64-bit ID or an amount is not
// rounded through float64, and is stored as written. The fields that the
// log assigns on write (ID, Seq, RecordedAt, PrevHash, Hash) are ignored
// when the event is recorded.
//
// A payload that is not one JSON object, or names no action (your own
// domain event, say: give its topic a WithMapping), is an error, so the
// message is reported and acknowledged rather than recorded.
func DecodeEvent(msg *message.Message) (audit.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(msg.Payload))
	dec.UseNumber()
	var e audit.Event
	if err := dec.Decode(&e); err != nil {
		return audit.Event{}, fmt.Errorf("payload is not the JSON form of an audit.Event: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return audit.Event{}, errors.New("payload has more after its JSON value")
	}
	if e.Action == "" {
		return audit.Event{}, errors.New("payload names no action, so it is not the JSON form of an audit.Event (map its topic with WithMapping)")
	}
	return e, nil
}

// NewMessage returns a watermill message with a new UUID whose payload is
// the JSON form of e, which DecodeEvent reads: publish it on a topic that
// a listener listens on through NewSubscriber. It fails for an event whose
// metadata does not encode as JSON.
func NewMessage(e audit.Event) (*message.Message, error) {
	payload, err := json.Marshal(e)
	if err != nil {
		return nil, opErr("new message", err)
	}
	return message.NewMessage(wm.NewUUID(), payload), nil
}
