package audit

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// ActionCount is an action of the catalogue with the number of events that
// carry it.
type ActionCount struct {
	Action string `json:"action"`
	Count  int64  `json:"count"`
}

// Default and largest limits of Actions.
const (
	DefaultActionsLimit = 10
	MaxActionsLimit     = 1000
)

// Search returns a page of the events whose action matches term, newest
// first (DefaultSearchLimit entries unless q.PerPage says otherwise), for a
// typeahead box. An action matches when term, compared case-insensitively,
// is a prefix of the whole action or of the part starting at any of its
// dot-separated segments: "inv" and "invoice.pa" both match
// "billing.Invoice.paid". Every character of term is literal, '%', '_' and
// '*' included. The matching actions come from the action catalogue, never
// from a scan of the log; an empty term matches everything.
func (l *Logger) Search(ctx context.Context, term string, q Query) (Page, error) {
	if l.denied != nil {
		return Page{}, l.denied
	}
	if q.Search != "" && q.Search != term {
		return Page{}, fmt.Errorf("%w: search %q conflicts with term %q", ErrInvalidQuery, q.Search, term)
	}
	q.Search = term
	return l.page(ctx, q, DefaultSearchLimit)
}

// Actions returns the distinct actions of the logger's tenant that start
// with prefix (case-insensitively), most frequent first, with their counts,
// from the catalogue kept up on write. On the AllTenants view, the actions
// of every tenant with their counts summed over the tenants. limit
// defaults to DefaultActionsLimit and is at most MaxActionsLimit.
func (l *Logger) Actions(ctx context.Context, prefix string, limit int) ([]ActionCount, error) {
	if l.denied != nil {
		return nil, l.denied
	}
	if l.c.isClosed() {
		return nil, opErr("actions", ErrClosed)
	}
	if !utf8.ValidString(prefix) || len(prefix) > MaxFieldBytes {
		return nil, fmt.Errorf("%w: prefix is not valid UTF-8 or too long", ErrInvalidQuery)
	}
	switch {
	case limit < 0:
		return nil, fmt.Errorf("%w: limit %d", ErrInvalidQuery, limit)
	case limit == 0:
		limit = DefaultActionsLimit
	case limit > MaxActionsLimit:
		limit = MaxActionsLimit
	}
	return l.c.store.Actions(ctx, l.scope(), strings.ToLower(prefix), limit)
}

// actionTerms returns what a typeahead term is matched against: the
// lower-cased action, then the suffix starting at each later segment.
func actionTerms(action string) []string {
	lower := strings.ToLower(action)
	terms := []string{lower}
	for i := 0; i < len(lower); i++ {
		if lower[i] == '.' && i+1 < len(lower) {
			terms = append(terms, lower[i+1:])
		}
	}
	return terms
}

// prefixEnd returns the smallest string greater than every string that
// starts with p, for a range scan; ok is false when there is none.
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// termRange is the condition of a range scan of audit_action_terms for the
// terms that start with term, and its arguments.
func termRange(term string) (string, []any) {
	if up, ok := prefixEnd(term); ok {
		return `term >= ? AND term < ?`, []any{term, up}
	}
	return `term >= ?`, []any{term}
}

// matchActions returns the actions of tenant that term matches, with their
// counts, most frequent first; wholeOnly matches the whole action only;
// limit 0 returns them all.
func matchActions(ctx context.Context, q sqlx.QueryerContext, tenant, term string, wholeOnly bool, limit int) ([]ActionCount, error) {
	cond, targs := termRange(term)
	query := `SELECT a.key, a.n FROM audit_counts a WHERE a.tenant = ? AND a.kind = 'action' AND a.key IN (
		SELECT action FROM audit_action_terms WHERE tenant = ? AND ` + cond
	args := append([]any{tenant, tenant}, targs...)
	if wholeOnly {
		query += ` AND seg = 0`
	}
	query += `) ORDER BY a.n DESC, a.key`
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	return queryActionCounts(ctx, q, query, args)
}

// queryActionCounts runs query, which selects actions and their counts.
func queryActionCounts(ctx context.Context, q sqlx.QueryerContext, query string, args []any) ([]ActionCount, error) {
	rows, err := q.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ActionCount
	for rows.Next() {
		var a ActionCount
		if err := rows.Scan(&a.Action, &a.Count); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Actions implements Store.
func (s *SQLiteStore) Actions(ctx context.Context, scope Filter, prefix string, limit int) ([]ActionCount, error) {
	var all []ActionCount
	var err error
	if scope.AllTenants {
		all, err = actionsAllTenants(ctx, s.readers, prefix, limit)
	} else {
		all, err = matchActions(ctx, s.readers, scope.Tenant, prefix, true, limit)
	}
	if err != nil {
		return nil, opErr("actions", s.readErr(err))
	}
	if all == nil {
		all = []ActionCount{}
	}
	return all, nil
}
