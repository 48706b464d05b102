package audithttp

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // tz works on a machine without a zone database

	"github.com/trailkit/audit"
)

// errBadParam is a query parameter the handler cannot read.
var errBadParam = errors.New("bad parameter")

// The query parameters that select events, as in audit.Query:
//
//	action, actor, actor_type, resource, resource_type, subject,
//	subject_type, outcome, search, since, until (RFC 3339 or a date,
//	2006-01-02: midnight in tz), tz (the IANA time zone of since and
//	until given as dates, e.g. Europe/Berlin; default UTC), from_seq,
//	to_seq, order (newest|oldest), page, per_page, after (a cursor from
//	"next").
//
// Unknown parameters are ignored; a parameter given twice is refused.
func parseQuery(v url.Values) (audit.Query, error) {
	var q audit.Query
	var err error
	one := func(name string) string {
		vs := v[name]
		if len(vs) > 1 && err == nil {
			err = fmt.Errorf("%w: %s given %d times", errBadParam, name, len(vs))
		}
		if len(vs) == 0 {
			return ""
		}
		return vs[0]
	}
	num := func(name string) int64 {
		s := one(name)
		if s == "" {
			return 0
		}
		n, perr := strconv.ParseInt(s, 10, 64)
		if (perr != nil || n < 0) && err == nil {
			err = fmt.Errorf("%w: %s: want a non-negative integer", errBadParam, name)
		}
		return n
	}
	loc := time.UTC
	if tz := one("tz"); tz != "" {
		var l *time.Location
		lerr := errors.New("not a zone name")
		if validZoneName(tz) && tz != "Local" {
			l, lerr = time.LoadLocation(tz)
		}
		switch {
		case lerr != nil:
			if err == nil {
				err = fmt.Errorf("%w: tz: unknown time zone %q: want an IANA name such as Europe/Berlin", errBadParam, tz)
			}
		default:
			loc = l
		}
	}
	tm := func(name string) time.Time {
		s := one(name)
		if s == "" {
			return time.Time{}
		}
		if t, perr := time.Parse(time.RFC3339Nano, s); perr == nil {
			return t
		}
		if t, perr := time.ParseInLocation(time.DateOnly, s, loc); perr == nil {
			return t
		}
		if err == nil {
			err = fmt.Errorf("%w: %s: want RFC 3339 (2026-12-02T15:04:05Z) or a date (2026-12-02)", errBadParam, name)
		}
		return time.Time{}
	}
	q.Action = one("action")
	q.ActorID = one("actor")
	q.ActorType = one("actor_type")
	q.ResourceID = one("resource")
	q.ResourceType = one("resource_type")
	q.Subject = one("subject")
	q.SubjectType = one("subject_type")
	q.Outcome = one("outcome")
	q.Search = one("search")
	q.After = one("after")
	q.Since, q.Until = tm("since"), tm("until")
	q.FromSeq, q.ToSeq = num("from_seq"), num("to_seq")
	page, per := num("page"), num("per_page")
	if page > 1<<30 || per > 1<<30 {
		if err == nil {
			err = fmt.Errorf("%w: page or per_page out of range", errBadParam)
		}
	} else {
		q.Page, q.PerPage = int(page), int(per)
	}
	switch o := one("order"); o {
	case "", "newest":
		q.Order = audit.NewestFirst
	case "oldest":
		q.Order = audit.OldestFirst
	default:
		if err == nil {
			err = fmt.Errorf("%w: order: want newest or oldest", errBadParam)
		}
	}
	return q, err
}

// validZoneName reports whether tz reads as an IANA zone name (letters,
// digits, '_', '-', '+' in '/'-separated parts, none of them "." or ".."),
// never a path that time.LoadLocation would open.
func validZoneName(tz string) bool {
	for _, part := range strings.Split(tz, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '+') {
				return false
			}
		}
	}
	return true
}
