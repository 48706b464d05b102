package audit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trailkit/audit/internal/sqlcore"
)

// Page sizes.
const (
	// DefaultPerPage is the page size when Query.PerPage is 0.
	DefaultPerPage = 50
	// MaxPerPage is the largest page; a larger Query.PerPage is reduced to it.
	MaxPerPage = 1000
	// DefaultSearchLimit is the page size of Search when Query.PerPage is 0.
	DefaultSearchLimit = 5
)

// Query selects and pages events. The zero Query is the first page of
// everything the logger's view sees (its tenant, or every tenant on the
// AllTenants view), newest first.
type Query struct {
	// Page is the 1-based page number (default 1). Prefer After to walk
	// pages: Page without After skips the earlier pages row by row.
	Page int
	// PerPage is the page size: default DefaultPerPage, at most MaxPerPage.
	PerPage int
	// After is Page.Next of the previous page: the next page continues
	// where that one ended (by keyset, not offset), so events recorded
	// meanwhile do not shift it. It must come from the same query on the
	// same view (a cursor made on one view is refused on another, even
	// where both see the same events); Page is then taken from the cursor.
	After string
	// Tenant narrows the AllTenants view to one tenant; there, "" means
	// every tenant (to read the default tenant "" alone, use the root
	// logger or WithTenant("")). On any other view Tenant may be "" or the
	// view's own tenant; another is refused with ErrInvalidQuery.
	Tenant string
	// Order is the order of the entries, of the cursors' walk and of All:
	// NewestFirst (the default) or OldestFirst.
	Order Order
	// Exact filters; empty means any. Action is one action: a trailing
	// ".*" is refused with ErrInvalidQuery (for every action under a
	// prefix, use Search, or Actions to list them). ResourceID looks at
	// the resource only; Subject at the resource and the targets.
	Action, ActorID, ActorType, ResourceType, ResourceID string
	// Subject keeps the events about one ID: whose resource, or any of
	// whose targets, has it (an invoice recorded WithTargets(account) is
	// about the account). SubjectType narrows it to refs of that type,
	// where IDs of several types collide. Subject excludes ResourceID and
	// ResourceType (use one or the other).
	Subject, SubjectType string
	// Outcome is OutcomeSuccess, OutcomeFailure, or "" for both.
	Outcome string
	// Since (inclusive) and Until (exclusive) bound OccurredAt; zero means
	// unbounded.
	Since, Until time.Time
	// FromSeq and ToSeq bound Seq, both inclusive; zero means unbounded.
	FromSeq, ToSeq int64
	// Search keeps events whose action matches as in Logger.Search.
	Search string
}

// Order is the order of pages, cursors and All.
type Order uint8

const (
	// NewestFirst lists the highest Seq first (the default).
	NewestFirst Order = iota
	// OldestFirst lists the lowest Seq first.
	OldestFirst
)

// String returns "newest" or "oldest".
func (o Order) String() string {
	if o == OldestFirst {
		return "oldest"
	}
	return "newest"
}

// Page is one page of events.
type Page struct {
	// Entries are in Query.Order: newest first by default.
	Entries []Event `json:"entries"`
	// Page is the 1-based number of this page, PerPage its size.
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	// TotalCount is the exact number of events the query matches, over all
	// pages; TotalPages is TotalCount divided by PerPage, rounded up.
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
	// Next is an opaque cursor for Query.After, or "" on the last page.
	Next string `json:"next,omitempty"`
}

// Filter is a validated query as a Store sees it: the scope (one tenant,
// or every tenant) and the conditions of a Query, with times clamped to
// what an event can hold and the search term lower-cased.
type Filter = sqlcore.Filter

// Get returns the event with id in the logger's tenant (in any tenant on
// the AllTenants view), or an error wrapping ErrNotFound.
func (l *Logger) Get(ctx context.Context, id string) (Event, error) {
	if l.denied != nil {
		return Event{}, l.denied
	}
	if l.c.isClosed() {
		return Event{}, opErr("get", ErrClosed)
	}
	if id == "" || !utf8.ValidString(id) || len(id) > MaxFieldBytes {
		return Event{}, opErr(fmt.Sprintf("get %q", id), ErrNotFound)
	}
	return l.c.store.Get(ctx, l.scope(), id)
}

// scope is the Filter of everything the logger's view reads.
func (l *Logger) scope() Filter {
	return Filter{Tenant: l.tenant, AllTenants: l.view == viewAll}
}

// Recent returns a page of the events that q selects, newest first, with
// the exact total. The totals of the common shapes (everything, one actor,
// one resource, one action, a Search term alone) come from counters kept up
// on write, so they cost the same at any size of log.
func (l *Logger) Recent(ctx context.Context, q Query) (Page, error) {
	return l.page(ctx, q, DefaultPerPage)
}

// ForAccount returns a page of the events about accountID: whose resource
// or any of whose targets has that ID (Query.Subject), in q's order, newest
// first by default; q may narrow it further. Unlike Query.ResourceID, which
// looks at the resource only, an invoice recorded with
// WithTargets(account) is found under the account. Its total is exact and
// read from counters, as the other common shapes' are.
func (l *Logger) ForAccount(ctx context.Context, accountID string, q Query) (Page, error) {
	if l.denied != nil {
		return Page{}, l.denied
	}
	if accountID == "" {
		return Page{}, fmt.Errorf("%w: empty account id", ErrInvalidQuery)
	}
	if q.Subject != "" && q.Subject != accountID {
		return Page{}, fmt.Errorf("%w: subject %q conflicts with account %q", ErrInvalidQuery, q.Subject, accountID)
	}
	q.Subject = accountID
	return l.page(ctx, q, DefaultPerPage)
}

func (l *Logger) page(ctx context.Context, q Query, defaultPer int) (Page, error) {
	if l.denied != nil {
		return Page{}, l.denied
	}
	if l.c.isClosed() {
		return Page{}, opErr("query", ErrClosed)
	}
	f, per, err := l.filter(q, defaultPer)
	if err != nil {
		return Page{}, err
	}
	bind := binding(f, l.view, per)
	var before int64
	pageNo, offset := 1, 0
	switch {
	case q.After != "":
		if before, pageNo, err = decodeCursor(q.After, bind); err != nil {
			return Page{}, err
		}
	case q.Page > 1:
		pageNo, offset = q.Page, (q.Page-1)*per
	}
	var events []Event
	var total int64
	if f.Since.IsZero() || !f.Since.Equal(f.Until) { // [t, t) selects nothing
		if events, total, err = l.c.store.List(ctx, f, before, offset, per+1); err != nil {
			return Page{}, err
		}
	}
	p := Page{Page: pageNo, PerPage: per, TotalCount: int(total), TotalPages: int((total + int64(per) - 1) / int64(per))}
	if len(events) > per {
		events = events[:per]
		p.Next = encodeCursor(bind, events[per-1].Seq, pageNo+1)
	}
	p.Entries = events
	if p.Entries == nil {
		p.Entries = []Event{}
	}
	return p, nil
}

// filter validates q and returns it as a Filter with the page size.
func (l *Logger) filter(q Query, defaultPer int) (Filter, int, error) {
	if q.Page < 0 {
		return Filter{}, 0, fmt.Errorf("%w: page %d", ErrInvalidQuery, q.Page)
	}
	per := q.PerPage
	switch {
	case per < 0:
		return Filter{}, 0, fmt.Errorf("%w: per_page %d", ErrInvalidQuery, per)
	case per == 0:
		per = defaultPer
	case per > MaxPerPage:
		per = MaxPerPage
	}
	// Divided, not multiplied: (Page-1)*per may overflow.
	if q.Page > 1 && q.Page-1 > maxOffset/per {
		return Filter{}, 0, fmt.Errorf("%w: page %d is out of range", ErrInvalidQuery, q.Page)
	}
	f := l.scope()
	switch {
	case q.Tenant == "" || q.Tenant == l.tenant && !f.AllTenants:
	case f.AllTenants:
		f.Tenant, f.AllTenants = q.Tenant, false
	default:
		return Filter{}, 0, fmt.Errorf("%w: tenant %q on the view of tenant %q", ErrInvalidQuery, q.Tenant, l.tenant)
	}
	for _, s := range [...]struct{ name, v string }{
		{"action", q.Action}, {"actor_id", q.ActorID}, {"actor_type", q.ActorType}, {"resource_type", q.ResourceType},
		{"resource_id", q.ResourceID}, {"subject", q.Subject}, {"subject_type", q.SubjectType},
		{"search", q.Search}, {"tenant", f.Tenant},
	} {
		if !utf8.ValidString(s.v) {
			return Filter{}, 0, fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidQuery, s.name)
		}
		if len(s.v) > MaxFieldBytes {
			return Filter{}, 0, fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalidQuery, s.name, MaxFieldBytes)
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return Filter{}, 0, fmt.Errorf("%w: until %s is before since %s", ErrInvalidQuery, formatTime(q.Until), formatTime(q.Since))
	}
	if err := checkShape(q); err != nil {
		return Filter{}, 0, err
	}
	f.Action, f.ActorID, f.ActorType, f.ResourceType, f.ResourceID = q.Action, q.ActorID, q.ActorType, q.ResourceType, q.ResourceID
	f.Subject, f.SubjectType, f.Outcome = q.Subject, q.SubjectType, q.Outcome
	f.FromSeq, f.ToSeq, f.OldestFirst = q.FromSeq, q.ToSeq, q.Order == OldestFirst
	f.Search = strings.ToLower(q.Search)
	f.Since, f.Until = timeRange(q.Since, q.Until)
	return f, per, nil
}

// checkShape refuses the combinations of q's fields that mean nothing.
func checkShape(q Query) error {
	switch {
	case q.Order != NewestFirst && q.Order != OldestFirst:
		return fmt.Errorf("%w: order %d", ErrInvalidQuery, q.Order)
	case q.Outcome != "" && q.Outcome != OutcomeSuccess && q.Outcome != OutcomeFailure:
		return fmt.Errorf("%w: outcome %q is neither %q nor %q", ErrInvalidQuery, q.Outcome, OutcomeSuccess, OutcomeFailure)
	case strings.HasSuffix(q.Action, ".*"):
		return fmt.Errorf("%w: action %q: Action is one action; for every action under a prefix use Search (or Actions to list them)", ErrInvalidQuery, q.Action)
	case q.Subject != "" && (q.ResourceID != "" || q.ResourceType != ""):
		return fmt.Errorf("%w: subject with resource_id or resource_type: use Subject (resource or targets) or ResourceID (resource only)", ErrInvalidQuery)
	case q.SubjectType != "" && q.Subject == "":
		return fmt.Errorf("%w: subject_type without subject", ErrInvalidQuery)
	case q.FromSeq < 0 || q.ToSeq < 0:
		return fmt.Errorf("%w: from_seq %d, to_seq %d: a seq is positive", ErrInvalidQuery, q.FromSeq, q.ToSeq)
	case q.ToSeq > 0 && q.FromSeq > q.ToSeq:
		return fmt.Errorf("%w: from_seq %d is after to_seq %d", ErrInvalidQuery, q.FromSeq, q.ToSeq)
	}
	return nil
}

// maxOffset is the most rows a Query.Page may skip. Page numbers stay far
// below what a cursor accepts (maxCursorPage), so that the Next of every
// page the API answers is accepted too.
const maxOffset = 1 << 40

// timeRange returns the bounds of OccurredAt that since (inclusive) and
// until (exclusive) select, within the times an event can have (minTime to
// maxTime, which fit Unix nanoseconds): a bound that every event meets is
// dropped (zero); one that no event meets becomes the empty range
// [maxTime, maxTime) or [minTime, minTime). A bound is never moved onto a
// time an event can have, which would change what it selects.
func timeRange(since, until time.Time) (time.Time, time.Time) {
	if !since.IsZero() && !since.After(minTime) {
		since = time.Time{} // every event is at or after it
	}
	if !until.IsZero() && until.After(maxTime) {
		until = time.Time{} // every event is before it
	}
	switch {
	case !since.IsZero() && since.After(maxTime):
		return maxTime, maxTime // after every event
	case !until.IsZero() && !until.After(minTime):
		return minTime, minTime // no event is before it
	}
	if !since.IsZero() {
		since = since.UTC()
	}
	if !until.IsZero() {
		until = until.UTC()
	}
	return since, until
}

// formatTime writes t for an error message: UTC, RFC 3339 with
// nanoseconds, no monotonic clock reading.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// binding identifies the query, tenant and view a cursor belongs to.
func binding(f Filter, view viewKind, per int) [8]byte {
	h := sha256.New()
	all := byte(0)
	if f.AllTenants {
		all = 1
	}
	order := byte(0)
	if f.OldestFirst {
		order = 1
	}
	h.Write([]byte{byte(view), all, order})
	for _, s := range []string{f.Tenant, f.Action, f.ActorID, f.ActorType, f.ResourceType, f.ResourceID,
		f.Subject, f.SubjectType, f.Outcome, f.Search} {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	var b [40]byte
	binary.BigEndian.PutUint64(b[0:], uint64(unixNanos(f.Since)))
	binary.BigEndian.PutUint64(b[8:], uint64(unixNanos(f.Until)))
	binary.BigEndian.PutUint64(b[16:], uint64(per))
	binary.BigEndian.PutUint64(b[24:], uint64(f.FromSeq))
	binary.BigEndian.PutUint64(b[32:], uint64(f.ToSeq))
	h.Write(b[:])
	var out [8]byte
	copy(out[:], h.Sum(nil))
	return out
}

func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

const cursorVersion = 1

// maxCursorSeq and maxCursorPage bound what a cursor may carry. A Next is
// made only when more rows follow, so the page it names is at most the
// number of events in the log, which no log takes to 2^62: every cursor the
// API makes is accepted.
const (
	maxCursorSeq  = 1 << 62
	maxCursorPage = maxCursorSeq
)

// encodeCursor makes an opaque cursor: version, query binding, the Seq the
// next page starts below, and the number of the next page.
func encodeCursor(bind [8]byte, before int64, page int) string {
	b := make([]byte, 0, 1+8+2*binary.MaxVarintLen64)
	b = append(b, cursorVersion)
	b = append(b, bind[:]...)
	b = binary.AppendUvarint(b, uint64(before))
	b = binary.AppendUvarint(b, uint64(page))
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, bind [8]byte) (before int64, page int, err error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1+8+2 || b[0] != cursorVersion {
		return 0, 0, fmt.Errorf("%w: malformed", ErrInvalidCursor)
	}
	if [8]byte(b[1:9]) != bind {
		return 0, 0, fmt.Errorf("%w: made for another query, tenant or view", ErrInvalidCursor)
	}
	rest := b[9:]
	seq, n := binary.Uvarint(rest)
	if n <= 0 || seq < 1 || seq > maxCursorSeq {
		return 0, 0, fmt.Errorf("%w: malformed", ErrInvalidCursor)
	}
	rest = rest[n:]
	pg, n := binary.Uvarint(rest)
	if n <= 0 || n != len(rest) || pg < 2 || pg > maxCursorPage {
		return 0, 0, fmt.Errorf("%w: malformed", ErrInvalidCursor)
	}
	return int64(seq), int(pg), nil
}
