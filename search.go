package audit

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/trailkit/audit/internal/sqlcore"
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

// Suggestion is one entry of a search box's suggestions (see Suggest): an
// action (Kind "action", Value the action), an actor (Kind "actor", Value
// its ID, with its Type and latest Name) or a resource (Kind "resource":
// a resource or a target of events, Value its ID, with Type and Name).
// Count is the total of the filter a pick stands for: Query{Action: Value}
// for an action, Query{ActorID: Value, ActorType: Type} for an actor,
// Query{Subject: Value, SubjectType: Type} for a resource; Filter returns
// that query.
type Suggestion struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
	Type  string `json:"type,omitempty"`
	Name  string `json:"name,omitempty"`
	Count int64  `json:"count"`
}

// Kinds of Suggestion.
const (
	SuggestAction   = sqlcore.SuggestAction
	SuggestActor    = sqlcore.SuggestActor
	SuggestResource = sqlcore.SuggestResource
)

// Filter returns the query a pick of s stands for, whose total is s.Count.
func (s Suggestion) Filter() Query {
	switch s.Kind {
	case SuggestAction:
		return Query{Action: s.Value}
	case SuggestActor:
		return Query{ActorID: s.Value, ActorType: s.Type}
	case SuggestResource:
		return Query{Subject: s.Value, SubjectType: s.Type}
	}
	return Query{}
}

// Default and largest limits of Suggest.
const (
	DefaultSuggestLimit = 10
	MaxSuggestLimit     = 100
)

// Suggest returns, for a search box, up to limit suggestions for term: the
// actions that term matches as Search does (a prefix of the action or of
// any dot-separated segment), and the actors and resources (targets
// included) whose ID or name starts with term; case-insensitive, every
// character literal; most frequent first, limit over all kinds together
// (default DefaultSuggestLimit, at most MaxSuggestLimit). An empty term
// gives none. Each comes with the total its filter (Suggestion.Filter)
// selects, so a UI can show it and turn a pick into a query.
//
// Suggestions read catalogues kept on write, never the log: a keystroke is
// one statement of short range reads, two to three times the time of
// Actions at any size of log. A term that starts more than limit names or
// IDs of a kind (and at least sqlcore.MinSuggestCandidates, 10) ranks the
// first limit of them in the order of those names and IDs, not the most
// frequent of all of them; each further character narrows the matches
// until the ranking is exact.
func (l *Logger) Suggest(ctx context.Context, term string, limit int) ([]Suggestion, error) {
	if l.denied != nil {
		return nil, l.denied
	}
	if l.c.isClosed() {
		return nil, opErr("suggest", ErrClosed)
	}
	if !utf8.ValidString(term) || len(term) > MaxFieldBytes {
		return nil, fmt.Errorf("%w: term is not valid UTF-8 or too long", ErrInvalidQuery)
	}
	switch {
	case limit < 0:
		return nil, fmt.Errorf("%w: limit %d", ErrInvalidQuery, limit)
	case limit == 0:
		limit = DefaultSuggestLimit
	case limit > MaxSuggestLimit:
		limit = MaxSuggestLimit
	}
	return l.c.store.Suggest(ctx, l.scope(), strings.ToLower(term), limit)
}
