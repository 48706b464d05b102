package postgres

import (
	"fmt"
	"strings"

	"github.com/trailkit/audit"
)

// Option configures a Store made by Open or New. An option out of range is
// an error wrapping audit.ErrInvalidOption.
type Option func(*options) error

type options struct {
	maxConns         int
	maxConnsSet      bool
	rowLevelSecurity bool
}

// minConns is the smallest pool the store works with: one connection for
// appends, one for the listener of a Logger's tails (see Notifications),
// two for the recount of CheckDerived (two reads at once).
const minConns = 4

// DefaultMaxConns is how many connections the pool Open makes holds at
// most: one for appends, the rest for reads.
const DefaultMaxConns = 10

func buildOptions(opts []Option) (options, error) {
	o := options{maxConns: DefaultMaxConns}
	for _, f := range opts {
		if f == nil {
			continue
		}
		if err := f(&o); err != nil {
			return options{}, err
		}
	}
	return o, nil
}

// WithMaxConns bounds the connections of the pool Open makes: 4 at least,
// as one appends, one listens while a Logger's Tail runs, and Verify's
// recount of the derived tables reads on two at once. New takes the
// caller's pool as it is and refuses this option.
func WithMaxConns(n int) Option {
	return func(o *options) error {
		if n < minConns {
			return fmt.Errorf("%w: WithMaxConns(%d): the store needs %d connections at least", audit.ErrInvalidOption, n, minConns)
		}
		o.maxConns, o.maxConnsSet = n, true
		return nil
	}
}

// WithRowLevelSecurity switches row-level security on for the audit tables
// when the store opens (the role opening it must own them). Their tenant
// policy then confines every role other than the owner, and roles with
// BYPASSRLS, to the rows of the tenant its session names with SET
// audit.tenant = '...'; a session that names none sees no rows. The store
// reads the whole log (the head of the chain, every tenant's counters), so
// it must connect as the owner or as a role with BYPASSRLS. It is off by
// default; once on, it stays on (ALTER TABLE ... DISABLE ROW LEVEL
// SECURITY turns it off).
func WithRowLevelSecurity() Option {
	return func(o *options) error {
		o.rowLevelSecurity = true
		return nil
	}
}

// opError is the error of one operation of the store. Its text names the
// package once, "audit: postgres: <op>: <cause>", whether or not the
// cause's own text starts with "audit: " (as the audit sentinels' do);
// errors.Is and errors.As see the cause.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	return "audit: postgres: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "audit: ")
}

func (e *opError) Unwrap() error { return e.err }

// opErr wraps err as the error of operation op.
func opErr(op string, err error) error { return &opError{op: op, err: err} }
