package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trailkit/audit"
)

// flags is one subcommand's flag.FlagSet, with its usage line and
// description, that lists its flags in the order they were defined.
type flags struct {
	fs    *flag.FlagSet
	name  string
	args  string
	about string
	order []string
}

func newFlags(name, args, about string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported, and help printed, by parse
	return &flags{fs: fs, name: name, args: args, about: about}
}

func (f *flags) add(name string) { f.order = append(f.order, name) }

func (f *flags) string(p *string, name, def, usage string) {
	f.fs.StringVar(p, name, def, usage)
	f.add(name)
}

func (f *flags) bool(p *bool, name string, usage string) {
	f.fs.BoolVar(p, name, false, usage)
	f.add(name)
}

func (f *flags) int(p *int, name string, usage string) {
	f.fs.IntVar(p, name, 0, usage)
	f.add(name)
}

func (f *flags) int64(p *int64, name string, usage string) {
	f.fs.Int64Var(p, name, 0, usage)
	f.add(name)
}

func (f *flags) duration(p *time.Duration, name string, def time.Duration, usage string) {
	f.fs.DurationVar(p, name, def, usage)
	f.add(name)
}

func (f *flags) value(v flag.Value, name, usage string) {
	f.fs.Var(v, name, usage)
	f.add(name)
}

// db defines --db, the log file, defaulting to $AUDIT_DB.
func (f *flags) db(p *string) {
	f.string(p, "db", os.Getenv("AUDIT_DB"), "the log `FILE` (default $AUDIT_DB)")
}

// parse parses args, flags and arguments in any order ("--" ends the
// flags), and returns the arguments. It prints the help on stdout for
// --help (returning flag.ErrHelp) and wraps a bad flag as a usageError.
// It checks the number of arguments: at least least, at most most.
func (f *flags) parse(e *env, args []string, least, most int) ([]string, error) {
	var positional []string
	for {
		if err := f.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.help(e.stdout)
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		rest := f.fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	switch {
	case len(positional) < least:
		return nil, usagef("missing argument: audit %s %s", f.name, f.args)
	case len(positional) > most:
		return nil, usagef("unexpected argument %q", positional[most])
	}
	return positional, nil
}

// helpWidth is the width of the help, in columns.
const helpWidth = 80

// help prints the command's usage, description and flags.
func (f *flags) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: audit %s %s\n\n%s\n", f.name, f.args, f.about)
	if len(f.order) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags:\n")
	for _, name := range f.order {
		fl := f.fs.Lookup(name)
		arg, usage := flag.UnquoteUsage(fl)
		left := "--" + name
		if len(name) == 1 {
			left = "-" + name
		}
		if arg != "" {
			left += " " + arg
		}
		if len(left) > 22 {
			fmt.Fprintf(w, "  %s\n  %-22s  ", left, "")
		} else {
			fmt.Fprintf(w, "  %-22s  ", left)
		}
		if fl.DefValue != "" && fl.DefValue != "0" && fl.DefValue != "false" && name != "db" {
			def := "(default " + fl.DefValue + ")"
			if last := usage[strings.LastIndex(usage, "\n")+1:]; len(last)+1+len(def) > helpWidth-26 {
				usage += "\n" + def
			} else {
				usage += " " + def
			}
		}
		fmt.Fprintln(w, strings.ReplaceAll(usage, "\n", "\n"+strings.Repeat(" ", 26)))
	}
}

// filters are the flags that select events: a Query and a view.
type filters struct {
	q          audit.Query
	since      timeValue
	until      timeValue
	tenant     string
	allTenants bool
}

// define adds the filter flags to f; the ones that make no sense for the
// command (tail has no end) are left out with skip.
func (fl *filters) define(f *flags, skip ...string) {
	skipped := func(name string) bool { return slices.Contains(skip, name) }
	str := func(p *string, name, usage string) {
		if !skipped(name) {
			f.string(p, name, "", usage)
		}
	}
	str(&fl.q.Action, "action", "one `ACTION`, exactly (--search takes a prefix)")
	str(&fl.q.ActorID, "actor", "the actor's `ID`")
	str(&fl.q.ActorType, "actor-type", "the actor's `TYPE`")
	str(&fl.q.ResourceID, "resource", "the resource's `ID` (--subject matches targets too)")
	str(&fl.q.ResourceType, "resource-type", "the resource's `TYPE`")
	str(&fl.q.Subject, "subject", "an `ID` that is the resource or any target")
	str(&fl.q.SubjectType, "subject-type", "the `TYPE` of --subject, where IDs of types collide")
	str(&fl.q.Outcome, "outcome", "only the events that ended in `success|failure`")
	if !skipped("since") {
		f.value(&fl.since, "since", "events that occurred at or after `TIME`: RFC 3339\n(2026-12-02T15:04:05Z), a date (2026-12-02, midnight\nUTC) or a time ago (90m, 36h, 7d)")
	}
	if !skipped("until") {
		f.value(&fl.until, "until", "events that occurred before `TIME` (as --since)")
	}
	if !skipped("from-seq") {
		f.int64(&fl.q.FromSeq, "from-seq", "events from `SEQ` on (inclusive)")
	}
	if !skipped("to-seq") {
		f.int64(&fl.q.ToSeq, "to-seq", "events up to `SEQ` (inclusive)")
	}
	str(&fl.q.Search, "search", "events whose action, or a dot-separated part of it,\nstarts with `TERM`, in any case")
	f.string(&fl.tenant, "tenant", "", "the events of `TENANT` (default: the default tenant \"\")")
	f.bool(&fl.allTenants, "all-tenants", "the events of every tenant")
}

// query returns the Query the flags select.
func (fl *filters) query() audit.Query {
	q := fl.q
	q.Since, q.Until = fl.since.t, fl.until.t
	return q
}

// view returns the view of l the tenant flags select: the root logger
// (the default tenant), one tenant's, or every tenant's.
func (fl *filters) view(l *audit.Logger) (*audit.Logger, error) {
	switch {
	case fl.allTenants && fl.tenant != "":
		return nil, usagef("--tenant and --all-tenants: give one")
	case fl.allTenants:
		return l.AllTenants(), nil
	case fl.tenant != "":
		return l.WithTenant(fl.tenant), nil
	}
	return l, nil
}

// timeValue is a --since or --until flag.
type timeValue struct{ t time.Time }

func (v *timeValue) String() string {
	if v == nil || v.t.IsZero() {
		return ""
	}
	return v.t.Format(time.RFC3339Nano)
}

func (v *timeValue) Set(s string) error {
	t, err := parseTime(s, time.Now())
	if err != nil {
		return err
	}
	v.t = t
	return nil
}

// parseTime reads a time given on the command line: RFC 3339, a date
// (midnight UTC), or a duration before now (with "d" for days of 24h).
func parseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := parseAgo(s)
	if err != nil {
		return time.Time{}, errors.New("want RFC 3339 (2026-12-02T15:04:05Z), a date (2026-12-02) or a time ago (90m, 36h, 7d)")
	}
	return now.Add(-d), nil
}

// parseAgo reads a positive duration, with "d" for days as well as Go's
// units.
func parseAgo(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n float64
		if n, err = strconv.ParseFloat(days, 64); err == nil && n >= 0 && n < 1e5 {
			d = time.Duration(n * float64(24*time.Hour))
		} else if err == nil {
			err = errors.New("out of range")
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err == nil && d < 0 {
		err = errors.New("negative")
	}
	return d, err
}

// orderValue is --order: newest or oldest.
type orderValue struct{ o audit.Order }

func (v *orderValue) String() string {
	if v == nil {
		return ""
	}
	return v.o.String()
}

func (v *orderValue) Set(s string) error {
	switch s {
	case "newest":
		v.o = audit.NewestFirst
	case "oldest":
		v.o = audit.OldestFirst
	default:
		return errors.New("want newest or oldest")
	}
	return nil
}

// openLog opens the log at path read-only.
func openLog(ctx context.Context, path string, opts ...audit.Option) (*audit.Logger, error) {
	if path == "" {
		return nil, usagef("no log file: give --db FILE, or set AUDIT_DB")
	}
	return audit.Open(ctx, path, append([]audit.Option{audit.WithReadOnly()}, opts...)...)
}
