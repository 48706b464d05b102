package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/trailkit/audit"
)

// openExample opens a log in a new temporary directory.
func openExample(opts ...audit.Option) (*audit.Logger, func()) {
	dir, err := os.MkdirTemp("", "audit-example-")
	if err != nil {
		panic(err)
	}
	l, err := audit.Open(context.Background(), filepath.Join(dir, "audit.db"), opts...)
	if err != nil {
		panic(err)
	}
	return l, func() { l.Close(); os.RemoveAll(dir) }
}

type User struct {
	ID   int64
	Name string
}

type Project struct {
	ID   string
	Name string
}

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "audit-example-")
	defer os.RemoveAll(dir)
	log, err := audit.Open(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		panic(err)
	}
	defer log.Close()

	alice := User{ID: 1, Name: "Alice"}
	apollo := Project{ID: "prj_7", Name: "Apollo"}
	e, err := log.Track(ctx, alice, "project.deleted", apollo)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Seq, e.Action, e.Actor, e.Resource, e.Outcome)
	// Output: 1 project.deleted {user 1 Alice} {project prj_7 Apollo} success
}

func ExampleLogger_Track() {
	log, done := openExample()
	defer done()
	ctx := context.Background()

	// nil is the system; options add targets, metadata, an outcome, an
	// idempotency key.
	e, err := log.Track(ctx, nil, "billing.invoice.paid", audit.Ref{Type: "invoice", ID: "inv_1"},
		audit.WithTargets(audit.Ref{Type: "billing_account", ID: "acct_42"}),
		audit.WithMeta("amount", 4200),
		audit.WithMeta("card_token", "tok_visa_4242"), // a secret: redacted before it is stored
		audit.WithIdempotencyKey("stripe:evt_1"),
	)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Actor.IsZero(), e.Targets, e.Metadata)

	// The same idempotency key returns the first event and writes nothing.
	again, _ := log.Track(ctx, nil, "billing.invoice.paid", nil, audit.WithIdempotencyKey("stripe:evt_1"))
	fmt.Println(again.ID == e.ID)

	// Bad input is refused with a sentinel and writes nothing.
	_, err = log.Track(ctx, nil, "", nil)
	fmt.Println(errors.Is(err, audit.ErrInvalidEvent))
	_, err = log.Track(ctx, 42, "x.y", nil)
	fmt.Println(errors.Is(err, audit.ErrUnsupportedSubject))
	// Output:
	// true [{billing_account acct_42 }] map[amount:4200 card_token:[REDACTED]]
	// true
	// true
	// true
}

func ExampleLogger_Recent() {
	log, done := openExample()
	defer done()
	ctx := context.Background()
	for i := range 7 {
		log.Track(ctx, User{ID: int64(i % 2)}, "doc.viewed", Project{ID: "p1"})
	}
	q := audit.Query{PerPage: 3}
	for {
		p, err := log.Recent(ctx, q)
		if err != nil {
			panic(err)
		}
		fmt.Printf("page %d/%d of %d:", p.Page, p.TotalPages, p.TotalCount)
		for _, e := range p.Entries {
			fmt.Print(" ", e.Seq)
		}
		fmt.Println()
		if p.Next == "" {
			break
		}
		q.After = p.Next // keyset: pages do not shift as events arrive
	}
	p, _ := log.Recent(ctx, audit.Query{ActorID: "1"})
	fmt.Println("actor 1:", p.TotalCount)
	// Output:
	// page 1/3 of 7: 7 6 5
	// page 2/3 of 7: 4 3 2
	// page 3/3 of 7: 1
	// actor 1: 3
}

func ExampleLogger_ForAccount() {
	log, done := openExample()
	defer done()
	ctx := context.Background()
	acct := audit.Ref{Type: "billing_account", ID: "acct_42"}
	log.Track(ctx, nil, "billing.account.created", acct)
	log.Track(ctx, nil, "user.login", nil)
	log.Track(ctx, nil, "billing.plan.changed", acct)
	// An invoice whose target is the account is about the account too.
	log.Track(ctx, nil, "billing.invoice.paid", audit.Ref{Type: "invoice", ID: "inv_1"}, audit.WithTargets(acct))
	p, _ := log.ForAccount(ctx, "acct_42", audit.Query{})
	for _, e := range p.Entries {
		fmt.Println(e.Seq, e.Action)
	}
	fmt.Println(p.TotalCount)
	// Output:
	// 4 billing.invoice.paid
	// 3 billing.plan.changed
	// 1 billing.account.created
	// 3
}

func ExampleLogger_Search() {
	log, done := openExample()
	defer done()
	ctx := context.Background()
	for _, a := range []string{"billing.invoice.created", "user.login", "billing.Invoice.paid", "invoice_export.done"} {
		log.Track(ctx, nil, a, nil)
	}
	// Prefix of the action or of any dot-separated segment, any case.
	p, _ := log.Search(ctx, "INVOICE", audit.Query{})
	for _, e := range p.Entries {
		fmt.Println(e.Action)
	}
	fmt.Println(p.TotalCount)
	// Output:
	// invoice_export.done
	// billing.Invoice.paid
	// billing.invoice.created
	// 3
}

func ExampleLogger_Actions() {
	log, done := openExample()
	defer done()
	ctx := context.Background()
	for _, a := range []string{"user.login", "user.login", "user.logout", "billing.paid"} {
		log.Track(ctx, nil, a, nil)
	}
	actions, _ := log.Actions(ctx, "user.", 10)
	fmt.Println(actions)
	// Output: [{user.login 2} {user.logout 1}]
}

func ExampleLogger_WithTenant() {
	log, done := openExample()
	defer done()
	ctx := context.Background()
	acme, globex := log.WithTenant("acme"), log.WithTenant("globex")
	e, _ := acme.Track(ctx, nil, "doc.shared", nil)
	globex.Track(ctx, nil, "doc.deleted", nil)

	p, _ := acme.Recent(ctx, audit.Query{})
	fmt.Println(p.TotalCount, p.Entries[0].Action, p.Entries[0].Tenant)
	_, err := globex.Get(ctx, e.ID)
	fmt.Println(errors.Is(err, audit.ErrNotFound))
	// Output:
	// 1 doc.shared acme
	// true
}

func ExampleLogger_AllTenants() {
	log, done := openExample()
	defer done()
	ctx := context.Background()
	log.WithTenant("acme").Track(ctx, nil, "doc.shared", nil)
	log.WithTenant("globex").Track(ctx, nil, "doc.deleted", nil)
	log.WithTenant("globex").Track(ctx, nil, "doc.shared", nil)

	all := log.AllTenants() // the operator's view: every tenant
	p, _ := all.Recent(ctx, audit.Query{Action: "doc.shared"})
	for _, e := range p.Entries {
		fmt.Println(e.Tenant, e.Action)
	}
	p, _ = all.Recent(ctx, audit.Query{Tenant: "globex"})
	fmt.Println(p.TotalCount)

	// A tenant's view never widens.
	_, err := log.WithTenant("acme").AllTenants().Recent(ctx, audit.Query{})
	fmt.Println(errors.Is(err, audit.ErrOutOfScope))
	// Output:
	// globex doc.shared
	// acme doc.shared
	// 2
	// true
}

func ExampleLogger_Listen() {
	log, done := openExample()
	defer done()
	ctx := context.Background()
	bus := audit.NewBus()
	li, err := log.Listen(ctx, bus, "billing")
	if err != nil {
		panic(err)
	}
	// Domain code publishes; it does not know about the audit log.
	bus.Publish(ctx, "billing", audit.Event{Action: "billing.invoice.sent", Resource: audit.Ref{Type: "invoice", ID: "inv_9"}})
	li.Close() // returns once what was published is recorded

	p, _ := log.Recent(ctx, audit.Query{})
	fmt.Println(p.TotalCount, p.Entries[0].Action)
	// Output: 1 billing.invoice.sent
}

func ExampleLogger_Verify() {
	log, done := openExample()
	defer done()
	ctx := context.Background()
	for range 3 {
		log.Track(ctx, nil, "doc.viewed", nil)
	}
	cp, _ := log.Checkpoint(ctx) // keep it outside the database
	log.Track(ctx, nil, "doc.viewed", nil)

	report, err := log.Verify(ctx, cp)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", report)
	// Output: {Checked:4 OK:true FirstBad:0 Reason:}
}

func ExampleLogger_All() {
	log, done := openExample()
	defer done()
	ctx := context.Background()
	for i := range 5 {
		log.Track(ctx, User{ID: int64(i % 2), Name: "U"}, "doc.viewed", Project{ID: fmt.Sprint("prj_", i)})
	}
	// Everything a query selects, oldest first, a chunk at a time.
	for e, err := range log.All(ctx, audit.Query{ActorID: "1", Order: audit.OldestFirst}) {
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Seq, e.Actor.ID, e.Resource.ID)
	}
	// Output:
	// 2 1 prj_1
	// 4 1 prj_3
}

func ExampleLogger_Tail() {
	log, done := openExample()
	defer done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log.Track(ctx, nil, "job.started", nil)

	// What is there after seq 0, then each event as it is committed.
	go func() {
		log.Track(context.Background(), nil, "job.progress", nil)
		log.Track(context.Background(), nil, "job.finished", nil)
	}()
	for e, err := range log.Tail(ctx, 0, audit.Query{}) {
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Seq, e.Action)
		if e.Action == "job.finished" {
			cancel() // or break
		}
	}
	// Output:
	// 1 job.started
	// 2 job.progress
	// 3 job.finished
}

func ExampleLogger_Export() {
	log, done := openExample()
	defer done()
	ctx := context.Background()
	log.Track(ctx, User{ID: 1, Name: "Alice"}, "billing.invoice.paid", Project{ID: "prj_7", Name: "=Apollo"})

	n, err := log.Export(ctx, os.Stdout, audit.ExportCSV, audit.Query{})
	if err != nil {
		panic(err)
	}
	fmt.Println(n, "event")
	// (Ids and times vary, so the output is not checked here: the header
	// row is audit.CSVColumns, and the resource name is written '=Apollo,
	// which no spreadsheet runs as a formula.)
}

func ExampleVerifyExport() {
	log, done := openExample()
	defer done()
	ctx := context.Background()
	for i := range 3 {
		log.Track(ctx, User{ID: int64(i), Name: "U"}, "doc.viewed", nil)
	}
	// An export of every tenant, unfiltered, checks offline.
	var file bytes.Buffer
	if _, err := log.AllTenants().Export(ctx, &file, audit.ExportJSONL, audit.Query{}); err != nil {
		panic(err)
	}
	report, err := audit.VerifyExport(&file, nil)
	fmt.Println(report.OK, report.Checked, err)
	// Output: true 3 <nil>
}

func ExampleLogger_Suggest() {
	log, done := openExample()
	defer done()
	ctx := context.Background()
	acct := audit.Ref{Type: "billing_account", ID: "acct_42", Name: "Acme Corp"}
	for i := range 3 {
		log.Track(ctx, User{ID: 1, Name: "Ada"}, "billing.invoice.paid", audit.Ref{Type: "invoice", ID: fmt.Sprint("inv_", i)}, audit.WithTargets(acct))
	}
	log.Track(ctx, User{ID: 2, Name: "Adam"}, "account.deleted", acct)

	// A keystroke: actions, actors and resources, most frequent first.
	found, err := log.Suggest(ctx, "a", 10)
	if err != nil {
		panic(err)
	}
	for _, s := range found {
		fmt.Printf("%-8s %-15s %-5s %-9s %d\n", s.Kind, s.Value, s.Type, s.Name, s.Count)
	}
	// A pick is a filter whose total is the suggestion's count.
	page, _ := log.Recent(ctx, found[0].Filter())
	fmt.Println(page.TotalCount)
	// Output:
	// resource acct_42         billing_account Acme Corp 4
	// actor    1               user  Ada       3
	// action   account.deleted                 1
	// actor    2               user  Adam      1
	// 4
}
