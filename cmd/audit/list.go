package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/trailkit/audit"
)

func runList(ctx context.Context, e *env, args []string) error {
	f := newFlags("list", "[flags]", `Prints a page of the events the filters select, newest first unless
--order says otherwise, as a table with the exact totals (or, with --json,
the page as JSON: entries, page, per_page, total_count, total_pages, next).
Cells are cut at 48 characters and control characters shown escaped (\n,
\x1b); "audit get ID" shows an event whole.`)
	var db string
	var fl filters
	var order orderValue
	var jsonOut bool
	f.db(&db)
	fl.define(f)
	f.value(&order, "order", "list `newest|oldest` first")
	f.int(&fl.q.PerPage, "per-page", "`N` events a page (default 50, at most 1000)")
	f.int(&fl.q.Page, "page", "page `N` (prefer --after to walk pages)")
	f.string(&fl.q.After, "after", "", "the next page: the `CURSOR` the previous one printed")
	f.bool(&jsonOut, "json", "print the page as JSON")
	if _, err := f.parse(e, args, 0, 0); err != nil {
		return err
	}
	l, err := openLog(ctx, db)
	if err != nil {
		return err
	}
	defer l.Close()
	v, err := fl.view(l)
	if err != nil {
		return err
	}
	q := fl.query()
	q.Order = order.o
	page, err := v.Recent(ctx, q)
	if err != nil {
		return err
	}
	if jsonOut {
		return printJSON(e.stdout, page, true)
	}
	if len(page.Entries) > 0 {
		if err := printTable(e.stdout, page.Entries, fl.allTenants); err != nil {
			return err
		}
	}
	total := int64(page.TotalCount)
	switch {
	case total == 0:
		fmt.Fprintln(e.stdout, "no events")
	case len(page.Entries) == 0:
		fmt.Fprintf(e.stdout, "page %d of %d is past the end: %s\n", page.Page, page.TotalPages, plural(total, "event"))
	default:
		fmt.Fprintf(e.stdout, "page %d of %d, %s\n", page.Page, page.TotalPages, plural(total, "event"))
	}
	if page.Next != "" {
		fmt.Fprintf(e.stdout, "next page: --after %s\n", page.Next)
	}
	return nil
}

func runGet(ctx context.Context, e *env, args []string) error {
	f := newFlags("get", "[flags] ID", `Prints the event with the id ID, every field of it (or, with --json, the
event as JSON). It looks in the default tenant unless --tenant or
--all-tenants says otherwise.`)
	var db string
	var fl filters
	var jsonOut bool
	f.db(&db)
	f.string(&fl.tenant, "tenant", "", "look in `TENANT` (default: the default tenant \"\")")
	f.bool(&fl.allTenants, "all-tenants", "look in every tenant")
	f.bool(&jsonOut, "json", "print the event as JSON")
	args, err := f.parse(e, args, 1, 1)
	if err != nil {
		return err
	}
	l, err := openLog(ctx, db)
	if err != nil {
		return err
	}
	defer l.Close()
	v, err := fl.view(l)
	if err != nil {
		return err
	}
	ev, err := v.Get(ctx, args[0])
	switch {
	case errors.Is(err, audit.ErrNotFound) && fl.allTenants:
		return fmt.Errorf("%w: no event %q in any tenant", audit.ErrNotFound, args[0])
	case errors.Is(err, audit.ErrNotFound):
		return fmt.Errorf("%w: no event %q in %s (--all-tenants looks in every tenant)", audit.ErrNotFound, args[0], tenantScope(fl.tenant))
	}
	if err != nil {
		return err
	}
	if jsonOut {
		return printJSON(e.stdout, ev, true)
	}
	return printEvent(e.stdout, ev)
}

// tenantScope names the tenant a view reads, for a message.
func tenantScope(tenant string) string {
	if tenant == "" {
		return `the default tenant ""`
	}
	return fmt.Sprintf("tenant %q", tenant)
}
