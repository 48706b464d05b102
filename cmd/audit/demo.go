package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/trailkit/audit"
)

func runDemo(ctx context.Context, e *env, args []string) error {
	f := newFlags("demo", "[flags]", `Creates a new log, records a realistic mix of events through Track and
through a listener on an in-process bus, and prints a Recent page, the next
page by cursor, a ForAccount page, a typeahead search, the action catalogue,
redacted metadata, and a verified checkpoint. The only command that writes.`)
	var db string
	f.string(&db, "db", "", "the database `FILE` to create (default: a new file in\na temporary directory)")
	if _, err := f.parse(e, args, 0, 0); err != nil {
		return err
	}
	return demo(ctx, e.stdout, db)
}

// User and Project are the application's own types: Track reads their ID
// and Name fields.
type User struct {
	ID    int64
	Name  string
	Email string
}

type Project struct {
	ID   string
	Name string
}

type BillingAccount struct {
	ID   string
	Name string
}

func demo(ctx context.Context, w io.Writer, path string) error {
	if path == "" {
		dir, err := os.MkdirTemp("", "audit-demo-")
		if err != nil {
			return err
		}
		path = filepath.Join(dir, "audit.db")
	}
	if _, err := os.Stat(path); err == nil {
		return usagef("%s exists: the demo creates a new database", path)
	}
	bus := audit.NewBus()
	log, err := audit.Open(ctx, path, audit.WithBus(bus))
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(w, "database: %s\n\n", path)

	// Domain modules publish on the bus; the listener records what they say.
	li, err := log.Listen(ctx, bus)
	if err != nil {
		return err
	}

	alice := User{ID: 1, Name: "Alice", Email: "alice@example.com"}
	bob := User{ID: 2, Name: "Bob"}
	acme := BillingAccount{ID: "acct_42", Name: "Acme Corp"}
	apollo := Project{ID: "prj_7", Name: "Apollo"}
	base := time.Now().Add(-time.Hour)

	for _, e := range []audit.Event{
		{Action: "billing.invoice.sent", Resource: audit.Ref{Type: "billing_account", ID: acme.ID, Name: acme.Name}},
		{Action: "project.archived", Actor: audit.Ref{Type: "user", ID: "2", Name: "Bob"}, Resource: audit.Ref{Type: "project", ID: apollo.ID, Name: apollo.Name}},
	} {
		if err := bus.Publish(ctx, "domain", e); err != nil {
			return err
		}
	}

	tracks := []struct {
		actor    any
		action   string
		resource any
		opts     []audit.TrackOption
	}{
		{alice, "user.signed_in", alice, []audit.TrackOption{audit.WithMeta("ip", "203.0.113.9")}},
		{alice, "billing.account.created", acme, nil},
		{alice, "project.created", apollo, []audit.TrackOption{audit.WithTargets(acme)}},
		{bob, "user.signed_in", bob, []audit.TrackOption{audit.Failed(), audit.WithMeta("reason", "bad password")}},
		{alice, "billing.invoice.paid", acme, []audit.TrackOption{audit.WithMetadata(map[string]any{
			"amount": 4200, "currency": "EUR",
			"headers": map[string]any{"Authorization": "Bearer sk_live_123"}, // redacted before it reaches disk
		})}},
		{nil, "billing.invoice.created", acme, []audit.TrackOption{audit.WithMeta("amount", 990)}},
		{bob, "project.member.added", apollo, []audit.TrackOption{audit.WithTargets(alice)}},
		{alice, "billing.plan.changed", acme, []audit.TrackOption{audit.WithMeta("from", "team"), audit.WithMeta("to", "business")}},
	}
	for i, t := range tracks {
		opts := append(t.opts, audit.At(base.Add(time.Duration(i)*time.Minute)))
		if _, err := log.Track(ctx, t.actor, t.action, t.resource, opts...); err != nil {
			return err
		}
	}
	if err := li.Close(); err != nil { // returns once what was published is recorded
		return err
	}

	recent, err := log.Recent(ctx, audit.Query{PerPage: 5})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Recent(PerPage: 5): page %d of %d, %d events in all\n", recent.Page, recent.TotalPages, recent.TotalCount)
	printEvents(w, recent.Entries)

	next, err := log.Recent(ctx, audit.Query{PerPage: 5, After: recent.Next})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nRecent(After: page 1's Next): page %d of %d\n", next.Page, next.TotalPages)
	printEvents(w, next.Entries)

	account, err := log.ForAccount(ctx, acme.ID, audit.Query{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nForAccount(%q): %d events\n", acme.ID, account.TotalCount)
	printEvents(w, account.Entries)

	found, err := log.Search(ctx, "inv", audit.Query{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nSearch(\"inv\"): %d matching events, newest %d\n", found.TotalCount, len(found.Entries))
	printEvents(w, found.Entries)

	actions, err := log.Actions(ctx, "billing.", 5)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nActions(\"billing.\", 5):\n")
	for _, a := range actions {
		fmt.Fprintf(w, "  %-26s %d\n", a.Action, a.Count)
	}

	paid, err := log.Search(ctx, "invoice.paid", audit.Query{PerPage: 1})
	if err != nil {
		return err
	}
	if len(paid.Entries) == 1 {
		fmt.Fprintf(w, "\nmetadata of %s as stored: %v\n", paid.Entries[0].Action, paid.Entries[0].Metadata)
	}
	if _, err := log.Get(ctx, "no-such-id"); !errors.Is(err, audit.ErrNotFound) {
		return fmt.Errorf("get of a missing id: %v", err)
	}

	cp, err := log.Checkpoint(ctx)
	if err != nil {
		return err
	}
	report, err := log.Verify(ctx, cp)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nCheckpoint: %s\nVerify: %+v\n", cp, report)
	return nil
}

func printEvents(w io.Writer, events []audit.Event) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  SEQ\tACTION\tACTOR\tRESOURCE\tOUTCOME")
	for _, e := range events {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", e.Seq, e.Action, refText(e.Actor), refText(e.Resource), e.Outcome)
	}
	tw.Flush()
}
