package watermill_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
	auditwm "github.com/trailkit/audit/watermill"
)

// invoicePaid is a domain event as an application publishes it, knowing
// nothing of the audit log.
type invoicePaid struct {
	InvoiceID   int64       `json:"invoice_id"`
	AmountCents json.Number `json:"amount_cents"`
	Currency    string      `json:"currency"`
	PaidAt      time.Time   `json:"paid_at"`
}

// mapInvoicePaid audits invoicePaid messages: the payload gives the
// resource and the details, the metadata who did it and in which tenant.
func mapInvoicePaid(msg *message.Message) (audit.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(msg.Payload))
	dec.UseNumber()
	var p invoicePaid
	if err := dec.Decode(&p); err != nil {
		return audit.Event{}, err
	}
	if p.InvoiceID == 0 {
		return audit.Event{}, errors.New("no invoice_id")
	}
	if p.Currency == "test" {
		return audit.Event{}, auditwm.ErrSkip
	}
	return audit.Event{
		Tenant:     msg.Metadata.Get("tenant"),
		Action:     "invoice.paid",
		Actor:      audit.Ref{Type: "user", ID: msg.Metadata.Get("user_id")},
		Resource:   audit.Ref{Type: "invoice", ID: strconv.FormatInt(p.InvoiceID, 10)},
		Metadata:   map[string]any{"amount_cents": p.AmountCents, "currency": p.Currency},
		OccurredAt: p.PaidAt,
	}, nil
}

// domainMessage is a watermill message carrying v as JSON, with metadata.
func domainMessage(t *testing.T, uuid string, v any, meta map[string]string) *message.Message {
	t.Helper()
	payload, err := json.Marshal(v)
	require.NoError(t, err)
	m := message.NewMessage(uuid, payload)
	for k, val := range meta {
		m.Metadata.Set(k, val)
	}
	return m
}

// TestMappingAuditsDomainEvents: a topic of the application's own events
// is audited through its mapping, which reads payload and metadata; big
// numbers stay exact; ErrSkip drops a message quietly; other topics keep
// the JSON form of audit.Event.
func TestMappingAuditsDomainEvents(t *testing.T) {
	t.Parallel()
	log := newLog(t)
	gc := goChannel(t, false)
	tp := newTap(gc)
	var reports handled
	sub := auditwm.NewSubscriber(tp, auditwm.WithMapping("billing.invoice_paid", mapInvoicePaid), auditwm.WithErrorHandler(reports.adapter))
	li, err := log.Listen(t.Context(), sub, "billing.invoice_paid", "audit.events")
	require.NoError(t, err)

	paidAt := time.Date(2026, 2, 3, 4, 5, 6, 7, time.UTC)
	require.NoError(t, gc.Publish("billing.invoice_paid",
		domainMessage(t, "m-1", invoicePaid{InvoiceID: 9007199254740993, AmountCents: "123456789012345678901234567890", Currency: "EUR", PaidAt: paidAt},
			map[string]string{"user_id": "u-7", "tenant": "acme"}),
		domainMessage(t, "m-2", invoicePaid{InvoiceID: 42, AmountCents: "1", Currency: "test", PaidAt: paidAt}, nil),
	))
	native := publish(t, gc, "audit.events", "ev", 3)
	require.Eventually(t, func() bool { return tp.acks() == 5 }, waitFor, tick)
	require.NoError(t, li.Close())

	acme := log.WithTenant("acme")
	page, err := acme.Recent(t.Context(), audit.Query{Action: "invoice.paid"})
	require.NoError(t, err)
	require.Len(t, page.Entries, 1)
	e := page.Entries[0]
	require.Equal(t, "invoice.paid", e.Action)
	require.Equal(t, audit.Ref{Type: "user", ID: "u-7"}, e.Actor)
	require.Equal(t, audit.Ref{Type: "invoice", ID: "9007199254740993"}, e.Resource, "an int64 beyond float64's 2^53, exact")
	require.Equal(t, map[string]any{"amount_cents": json.Number("123456789012345678901234567890"), "currency": "EUR"}, e.Metadata)
	require.True(t, paidAt.Equal(e.OccurredAt))
	require.Equal(t, "billing.invoice_paid:m-1", e.IdempotencyKey)

	// The skipped message was acknowledged, not recorded, not reported.
	delivered, acked, nacked := tp.counts("m-2")
	require.Equal(t, []int{1, 1, 0}, []int{delivered, acked, nacked})
	require.Equal(t, 1+len(native.keys), total(t, log.Logger))
	_, _, errs := reports.snapshot()
	require.Empty(t, errs)
	for _, key := range native.keys {
		p, err := log.AllTenants().Recent(t.Context(), audit.Query{ResourceID: key})
		require.NoError(t, err)
		require.Equal(t, 1, p.TotalCount, key)
	}
}

// TestUnmappableReportedOnceAndAcked: a message that can never become an
// event is reported to the adapter's handler once, with ErrUnmappable,
// and acknowledged: not redelivered, nothing recorded, and the messages
// after it go through. An event that Record refuses goes to the logger's
// handler, once.
func TestUnmappableReportedOnceAndAcked(t *testing.T) {
	t.Parallel()
	log := newLog(t)
	gc := goChannel(t, false)
	tp := newTap(gc)
	var reports handled
	sub := auditwm.NewSubscriber(tp, auditwm.WithMapping("billing.invoice_paid", mapInvoicePaid), auditwm.WithErrorHandler(reports.adapter))
	li, err := log.Listen(t.Context(), sub, "billing.invoice_paid", "audit.events")
	require.NoError(t, err)

	bad := map[string][]byte{
		"not-json":     []byte("invoice 7 paid"),
		"domain-event": []byte(`{"invoice_id": 7, "amount_cents": 100}`),
		"trailing":     []byte(`{"action": "a.b"} {"action": "c.d"}`),
		"array":        []byte(`[{"action": "a.b"}]`),
		"null":         []byte(`null`),
		"empty":        nil,
		"wrong-types":  []byte(`{"action": 7}`),
	}
	var msgs []*message.Message
	for uuid, payload := range bad {
		msgs = append(msgs, message.NewMessage(uuid, payload))
	}
	invalid := message.NewMessage("invalid-outcome", []byte(`{"action": "a.b", "outcome": "maybe"}`))
	msgs = append(msgs, invalid, message.NewMessage("good", []byte(`{"action": "a.good", "metadata": {"n": 18446744073709551617}}`)))
	require.NoError(t, gc.Publish("audit.events", msgs...))
	require.NoError(t, gc.Publish("billing.invoice_paid", domainMessage(t, "no-invoice", map[string]any{"amount_cents": 1}, nil)))
	require.Eventually(t, func() bool { return tp.acks() == len(msgs)+1 }, waitFor, tick)
	require.NoError(t, li.Close())

	for _, m := range append(msgs, message.NewMessage("no-invoice", nil)) {
		delivered, acked, nacked := tp.counts(m.UUID)
		require.Equal(t, []int{1, 1, 0}, []int{delivered, acked, nacked}, "%s: acknowledged once, never redelivered", m.UUID)
	}
	topics, uuids, errs := reports.snapshot()
	require.Len(t, errs, len(bad)+1)
	seen := map[string]bool{}
	for i, err := range errs {
		require.ErrorIs(t, err, auditwm.ErrUnmappable, uuids[i])
		msg := err.Error()
		require.True(t, strings.HasPrefix(msg, "audit: watermill: map message "+uuids[i]+" on \""+topics[i]+"\": message cannot become an event: "), msg)
		require.Equal(t, 1, strings.Count(msg, "audit:"), msg)
		seen[uuids[i]] = true
	}
	for uuid := range bad {
		require.True(t, seen[uuid], "%s reported", uuid)
	}
	require.True(t, seen["no-invoice"])
	require.Contains(t, errs[indexOf(uuids, "domain-event")].Error(), "WithMapping", "says what to do")

	// The event Record refuses goes to the logger's handler.
	_, ids, logged := log.handled.snapshot()
	require.Len(t, logged, 1)
	require.ErrorIs(t, logged[0], audit.ErrInvalidEvent)
	require.Equal(t, "audit.events:invalid-outcome", ids[0])

	events := allEvents(t, log.Logger)
	require.Len(t, events, 1)
	require.Equal(t, "a.good", events[0].Action)
	require.Equal(t, map[string]any{"n": json.Number("18446744073709551617")}, events[0].Metadata, "numbers kept exact by default")
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestIdempotencyKeys: the key is the topic and the message UUID, so the
// same UUID on two topics is two events and no topic and UUID can pass for
// another pair; an event's own key wins; an empty UUID gives no key.
func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	log := newLog(t)
	gc := goChannel(t, false)
	tp := newTap(gc)
	topics := []string{"orders", "orders:x", `orders\`, "orders:x:y"}
	li, err := log.Listen(t.Context(), auditwm.NewSubscriber(tp), topics...)
	require.NoError(t, err)

	ev := func(action string) []byte { return []byte(`{"action": "` + action + `"}`) }
	publish := func(topic, uuid string, payload []byte) {
		require.NoError(t, gc.Publish(topic, message.NewMessage(uuid, payload)))
	}
	publish("orders", "same", ev("k.orders"))
	publish("orders:x", "same", ev("k.orders-x"))
	// Without escaping these would read "orders:x:y" twice.
	publish("orders", "x:y", ev("k.escape-1"))
	publish("orders:x", "y", ev("k.escape-2"))
	publish(`orders\`, ":x", ev("k.escape-3"))
	publish("orders:x:y", "z", ev("k.escape-4"))
	publish("orders", "own", []byte(`{"action": "k.own", "idempotency_key": "invoice-7"}`))
	publish("orders:x", "own-again", []byte(`{"action": "k.own", "idempotency_key": "invoice-7"}`))
	publish("orders", "", ev("k.no-uuid"))
	publish("orders", "", ev("k.no-uuid"))
	require.Eventually(t, func() bool { return tp.acks() == 10 }, waitFor, tick)
	require.NoError(t, li.Close())

	keys := map[string]string{}
	count := map[string]int{}
	for _, e := range allEvents(t, log.Logger) {
		keys[e.Action] = e.IdempotencyKey
		count[e.Action]++
	}
	require.Equal(t, map[string]string{
		"k.orders":   "orders:same",
		"k.orders-x": `orders\:x:same`,
		"k.escape-1": "orders:x:y",
		"k.escape-2": `orders\:x:y`,
		"k.escape-3": `orders\\::x`,
		"k.escape-4": `orders\:x\:y:z`,
		"k.own":      "invoice-7",
		"k.no-uuid":  "",
	}, keys)
	require.Equal(t, 1, count["k.own"], "the event's own key dedupes across topics")
	require.Equal(t, 2, count["k.no-uuid"], "no UUID, no key: recorded each time")
}

// TestAllTopicsRefused: watermill has no topic meaning "every topic", so
// Listen without topics, and Subscribe with AllTopics or "", fail, naming
// the package once.
func TestAllTopicsRefused(t *testing.T) {
	t.Parallel()
	log := newLog(t)
	gc := goChannel(t, false)
	sub := auditwm.NewSubscriber(gc)
	_, err := log.Listen(t.Context(), sub)
	require.ErrorIs(t, err, audit.ErrAllTopicsUnsupported)
	_, ok := sub.(audit.AllTopicsSubscriber)
	require.False(t, ok)

	_, err = sub.Subscribe(t.Context(), audit.AllTopics)
	require.ErrorIs(t, err, audit.ErrAllTopicsUnsupported)
	require.Equal(t, `audit: watermill: subscribe to "*": subscriber cannot subscribe to all topics`, err.Error())
	_, err = sub.Subscribe(t.Context(), "")
	require.EqualError(t, err, "audit: watermill: subscribe: empty topic")

	require.PanicsWithValue(t, "audit: watermill: NewSubscriber with a nil subscriber", func() { auditwm.NewSubscriber(nil) })
}

// TestSubscribeErrorsAndEndedSubscriptions: an error of watermill's
// Subscribe is Listen's; a subscription that watermill ends by itself is
// reported.
func TestSubscribeErrorsAndEndedSubscriptions(t *testing.T) {
	t.Parallel()
	log := newLog(t)
	gc := goChannel(t, false)
	var reports handled
	sub := auditwm.NewSubscriber(gc, auditwm.WithErrorHandler(reports.adapter))
	li, err := log.Listen(t.Context(), sub, "audit.events")
	require.NoError(t, err)
	require.NoError(t, gc.Close())
	require.Eventually(t, func() bool { return reports.count() > 0 }, waitFor, tick)
	require.NoError(t, li.Close())
	topics, uuids, errs := reports.snapshot()
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], auditwm.ErrSubscriptionEnded)
	require.Equal(t, "audit.events", topics[0])
	require.Empty(t, uuids[0])
	require.Equal(t, `audit: watermill: subscription to "audit.events": watermill subscription ended`, errs[0].Error())

	_, err = log.Listen(t.Context(), sub, "audit.events")
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), `audit: listen on "audit.events": watermill: subscribe to "audit.events": `), err.Error())
}

// TestNewMessage: NewMessage and DecodeEvent are inverses for what a
// publisher sets, and NewMessage refuses metadata that JSON cannot hold.
func TestNewMessage(t *testing.T) {
	t.Parallel()
	e := testEvent("k", 35) // tenant, targets, failure outcome
	m, err := auditwm.NewMessage(e)
	require.NoError(t, err)
	require.NotEmpty(t, m.UUID)
	got, err := auditwm.DecodeEvent(m)
	require.NoError(t, err)
	require.Equal(t, e.Metadata, got.Metadata)
	require.True(t, e.OccurredAt.Equal(got.OccurredAt))
	got.OccurredAt = e.OccurredAt
	require.Equal(t, e, got)

	_, err = auditwm.NewMessage(audit.Event{Action: "a.b", Metadata: map[string]any{"c": make(chan int)}})
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "audit: watermill: new message: "), err.Error())
}
