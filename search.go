package audit

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
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
