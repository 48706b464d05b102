package watermill_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/trailkit/audit"
	auditwm "github.com/trailkit/audit/watermill"
)

// Events published as audit events on a watermill topic are recorded by a
// listener. (BlockPublishUntilSubscriberAck makes Publish return once the
// event is committed, which keeps the example short.)
func ExampleNewSubscriber() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "audit-example-")
	defer os.RemoveAll(dir)
	log, err := audit.Open(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		panic(err)
	}
	defer log.Close()
	pubSub := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, wm.NopLogger{})

	li, err := log.Listen(ctx, auditwm.NewSubscriber(pubSub), "audit.events")
	if err != nil {
		panic(err)
	}
	msg, _ := auditwm.NewMessage(audit.Event{
		Action:   "project.deleted",
		Actor:    audit.Ref{Type: "user", ID: "42"},
		Resource: audit.Ref{Type: "project", ID: "7"},
	})
	if err := pubSub.Publish("audit.events", msg); err != nil {
		panic(err)
	}
	li.Close()

	page, _ := log.Recent(ctx, audit.Query{})
	e := page.Entries[0]
	fmt.Println(page.TotalCount, e.Action, e.Actor.ID, e.Resource.ID, e.IdempotencyKey == "audit.events:"+msg.UUID)
	// Output: 1 project.deleted 42 7 true
}

// A topic that carries the application's own domain events is audited
// through a mapping, which reads the payload and the metadata.
func ExampleWithMapping() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "audit-example-")
	defer os.RemoveAll(dir)
	log, err := audit.Open(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		panic(err)
	}
	defer log.Close()
	pubSub := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, wm.NopLogger{})

	type orderShipped struct {
		OrderID string `json:"order_id"`
		Carrier string `json:"carrier"`
	}
	sub := auditwm.NewSubscriber(pubSub, auditwm.WithMapping("orders.shipped", func(m *message.Message) (audit.Event, error) {
		var o orderShipped
		if err := json.Unmarshal(m.Payload, &o); err != nil {
			return audit.Event{}, err // reported once, then acknowledged
		}
		return audit.Event{
			Action:   "order.shipped",
			Actor:    audit.Ref{Type: "user", ID: m.Metadata.Get("user_id")},
			Resource: audit.Ref{Type: "order", ID: o.OrderID},
			Metadata: map[string]any{"carrier": o.Carrier},
		}, nil
	}))
	li, err := log.Listen(ctx, sub, "orders.shipped")
	if err != nil {
		panic(err)
	}
	msg := message.NewMessage(wm.NewUUID(), []byte(`{"order_id": "o-19", "carrier": "DHL"}`))
	msg.Metadata.Set("user_id", "u-3")
	if err := pubSub.Publish("orders.shipped", msg); err != nil {
		panic(err)
	}
	li.Close()

	page, _ := log.Recent(ctx, audit.Query{})
	e := page.Entries[0]
	fmt.Println(e.Action, e.Actor.ID, e.Resource.ID, e.Metadata["carrier"])
	// Output: order.shipped u-3 o-19 DHL
}
