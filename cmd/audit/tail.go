package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trailkit/audit"
)

func runTail(ctx context.Context, e *env, args []string) error {
	f := newFlags("tail", "[flags]", `Prints the events the filters select as they are recorded, one line each
(or, with --json, one JSON object a line), oldest first, until Ctrl-C; then
it exits with 0. It starts with the events recorded after it started; --last
shows the newest few first, --from-seq starts further back. Events written
by another process arrive within --poll.`)
	var db string
	var fl filters
	var last int
	var poll time.Duration
	var jsonOut bool
	f.db(&db)
	fl.define(f, "until", "to-seq") // a tail has no end
	f.int(&last, "last", "first print the `N` newest events that match")
	f.duration(&poll, "poll", audit.DefaultTailPoll, "look for events of other processes every `DURATION`")
	f.bool(&jsonOut, "json", "print each event as one line of JSON")
	if _, err := f.parse(e, args, 0, 0); err != nil {
		return err
	}
	switch {
	case last < 0:
		return usagef("--last %d: want a number of events, 0 or more", last)
	case last > audit.MaxPerPage:
		return usagef("--last %d: at most %d", last, audit.MaxPerPage)
	case last > 0 && fl.q.FromSeq > 0:
		return usagef("--last and --from-seq: give one")
	case poll <= 0:
		return usagef("--poll %v: want a positive duration", poll)
	}
	l, err := openLog(ctx, db, audit.WithTailPoll(poll))
	if err != nil {
		return err
	}
	defer l.Close()
	v, err := fl.view(l)
	if err != nil {
		return err
	}
	q := fl.query()

	show := func(ev audit.Event) error {
		if jsonOut {
			return printJSON(e.stdout, ev, false)
		}
		_, err := fmt.Fprintln(e.stdout, strings.Join(row(ev, fl.allTenants), "  "))
		return err
	}

	// Where to start: after the newest event now (whatever it is: Seq is
	// global), or before --from-seq.
	since := q.FromSeq - 1
	if q.FromSeq == 0 {
		head, err := l.Checkpoint(ctx)
		if err != nil {
			return err
		}
		since = head.Seq
		if last > 0 {
			backlog := q
			backlog.ToSeq, backlog.PerPage = head.Seq, last
			page, err := v.Recent(ctx, backlog)
			if err != nil {
				return err
			}
			for _, ev := range slices.Backward(page.Entries) {
				if err := show(ev); err != nil {
					return err
				}
			}
		}
	}
	if e.stderrTTY {
		fmt.Fprintf(e.stderr, "following %s after seq %d; Ctrl-C to stop\n", escape(db), since)
	}
	for ev, err := range v.Tail(ctx, since, q) {
		if err != nil {
			return err
		}
		if err := show(ev); err != nil {
			return err
		}
	}
	return nil // Ctrl-C ends a tail: that is its way to finish
}
