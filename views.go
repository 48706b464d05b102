package audit

import (
	"context"
	"fmt"
)

// viewKind says what a Logger may see and do.
type viewKind uint8

const (
	// viewRoot is the Logger that Open and New return: it reads the default
	// tenant, records into any tenant, closes the log and reaches its store.
	viewRoot viewKind = iota
	// viewTenant reads and records one tenant (WithTenant).
	viewTenant
	// viewAll reads every tenant and records into any (AllTenants).
	viewAll
	// viewDenied fails every call with ErrOutOfScope: what a view asked
	// for more than it may see gets.
	viewDenied
)

// WithTenant returns a view of the log scoped to tenant: its writes are
// stamped with tenant and its reads (pages, totals, Get, Search, Actions,
// cursors) see nothing else. The root logger and the AllTenants view make
// the view of any tenant, "" included (which, unlike the root logger,
// records nothing into other tenants).
//
// A view of one tenant is a capability for that tenant only: WithTenant on
// it with the same tenant returns an equivalent view, and with any other
// tenant a view whose every call fails with an error wrapping
// ErrOutOfScope. Views share the writer and the store; they cannot Close
// the log nor reach its Store. Seq, Checkpoint and Verify are global: a
// view's events carry their position in the whole log, and Checkpoint and
// Verify, through any view, cover every tenant's events (they return only
// positions, hashes and the seq of a bad event).
func (l *Logger) WithTenant(tenant string) *Logger {
	switch l.view {
	case viewDenied:
		return l
	case viewTenant:
		if tenant == l.tenant {
			return l
		}
		return l.deny(fmt.Sprintf("WithTenant(%q) on the view of tenant %q", tenant, l.tenant))
	}
	return &Logger{c: l.c, tenant: tenant, view: viewTenant}
}

// AllTenants returns the view of the log across every tenant, for the
// operator of a multi-tenant application: its reads (pages, totals, Get,
// Search, Actions, cursors) span every tenant, each entry carrying its
// Tenant, and Query.Tenant narrows them to one. Its writes record into
// Event.Tenant as given, as the root logger's do. Like every view, it
// cannot Close the log nor reach its Store; WithTenant on it makes the
// view of one tenant.
//
// Only the root logger makes it: AllTenants on the view of one tenant
// returns a view whose every call fails with an error wrapping
// ErrOutOfScope.
func (l *Logger) AllTenants() *Logger {
	switch l.view {
	case viewRoot:
		return &Logger{c: l.c, view: viewAll}
	case viewTenant:
		return l.deny(fmt.Sprintf("AllTenants on the view of tenant %q", l.tenant))
	}
	return l // the AllTenants view itself, or a denied view
}

// Tenant returns the tenant the logger reads and stamps: "" for the root
// logger (the default tenant) and for the AllTenants view (which reads
// every tenant), the tenant of a view made by WithTenant (and, on a view
// that fails every call, the tenant of the view it was made from).
func (l *Logger) Tenant() string { return l.tenant }

// Store returns the store the logger records into. Only the root logger
// hands it out: the store reads every tenant, so on a view Store returns a
// Store whose every method fails with an error wrapping ErrOutOfScope
// (Close included, which closes nothing).
func (l *Logger) Store() Store {
	if l.view != viewRoot {
		return deniedStore{l.outOfScope("Store of a view: only the logger that Open or New returned reaches the store")}
	}
	return l.c.store
}

// outOfScope returns an error wrapping ErrOutOfScope that says why.
func (l *Logger) outOfScope(why string) error {
	return fmt.Errorf("%w: %s", ErrOutOfScope, why)
}

// deny returns a view whose every call fails with an error wrapping
// ErrOutOfScope. It shares nothing with the log: its core has a store that
// refuses everything, so that no call can reach the log even by a path
// that forgot to check.
func (l *Logger) deny(why string) *Logger {
	err := l.outOfScope(why)
	opts, _ := buildOptions(scopeLogger, nil) // the defaults cannot fail
	c := &core{store: deniedStore{err}, opts: opts, stopTick: make(chan struct{})}
	c.idle.L = &c.mu
	return &Logger{c: c, tenant: l.tenant, view: viewDenied, denied: err}
}

// deniedStore is a Store whose every method fails with err.
type deniedStore struct{ err error }

var _ Store = deniedStore{}

func (s deniedStore) Append(context.Context, []Event) ([]AppendResult, error) { return nil, s.err }

func (s deniedStore) Get(context.Context, Filter, string) (Event, error) { return Event{}, s.err }

func (s deniedStore) List(context.Context, Filter, int64, int, int) ([]Event, int64, error) {
	return nil, 0, s.err
}

func (s deniedStore) Range(context.Context, Filter, int64, int) ([]Event, int64, error) {
	return nil, 0, s.err
}

func (s deniedStore) Head(context.Context) (int64, []byte, error) { return 0, nil, s.err }

func (s deniedStore) ReadChain(context.Context, int64, int64, func(ChainEntry) error) error {
	return s.err
}

func (s deniedStore) Actions(context.Context, Filter, string, int) ([]ActionCount, error) {
	return nil, s.err
}

func (s deniedStore) Suggest(context.Context, Filter, string, int) ([]Suggestion, error) {
	return nil, s.err
}

func (s deniedStore) Close() error { return s.err }
