package audit

import (
	"context"
	_ "embed"
	"iter"

	"github.com/jmoiron/sqlx"
)

// Store is where a Logger keeps events. The Logger validates, normalizes and
// batches; a Store persists and answers queries. Every Store must pass the
// conformance suite in package audittest. Implementations must be safe for
// concurrent use, although a Logger calls Append from one goroutine at a
// time.
type Store interface {
	// Append writes events in one transaction, in order, assigning each its
	// Seq (the next position in the log, gapless), RecordedAt and hashes. It
	// returns one result per event: the event as stored; or, when an event's
	// IdempotencyKey was already used in its tenant (earlier or earlier in
	// the same batch), the first event with that key, and nothing is
	// written for it; or an error that concerns that event alone. An error
	// from Append itself means nothing was written.
	Append(ctx context.Context, events []Event) ([]AppendResult, error)
	// Get returns the event with id among the tenants that scope selects
	// (scope.Tenant, or every tenant when scope.AllTenants; its other
	// fields are zero), or an error wrapping ErrNotFound.
	Get(ctx context.Context, scope Filter, id string) (Event, error)
	// List returns up to limit events matching f, in f's order (newest,
	// highest Seq, first unless f.OldestFirst), after cursor in that order
	// (Seq < cursor newest first, Seq > cursor oldest first) when cursor >
	// 0, skipping the first offset; and the exact number of events
	// matching f (ignoring cursor, offset and limit), read from the same
	// snapshot. With f.AllTenants, the events of every tenant match.
	List(ctx context.Context, f Filter, cursor int64, offset, limit int) ([]Event, int64, error)
	// Range is List without the total, for walks of everything (All,
	// Tail, Export): up to limit events matching f in f's order after
	// cursor; and, when it returns fewer than limit, the Seq of the newest
	// event of its snapshot (0 otherwise): an oldest-first walk has seen
	// everything up to it.
	Range(ctx context.Context, f Filter, cursor int64, limit int) ([]Event, int64, error)
	// Head returns the Seq and Hash of the newest event, or 0 and nil for an
	// empty log.
	Head(ctx context.Context) (seq int64, hash []byte, err error)
	// ReadChain calls fn with each stored event with from <= Seq <= to, in
	// Seq order, across all tenants, exactly as stored (see ChainEntry), one
	// at a time: its memory must not grow with the range. It stops at the
	// first error fn returns and returns that error.
	ReadChain(ctx context.Context, from, to int64, fn func(ChainEntry) error) error
	// Actions returns the distinct actions among the tenants that scope
	// selects (as for Get) that prefix (lower-cased) matches as Search
	// does (a prefix of the action or of any of its dot-separated
	// segments), most frequent first, with their counts (summed over the
	// tenants); ties in order of the action.
	Actions(ctx context.Context, scope Filter, prefix string, limit int) ([]ActionCount, error)
	// Suggest returns up to limit suggestions for term (lower-cased, not
	// empty) among the tenants scope selects, as Logger.Suggest describes,
	// from catalogues kept on write.
	Suggest(ctx context.Context, scope Filter, term string, limit int) ([]Suggestion, error)
	// Close releases the store. Calls after Close return ErrClosed.
	Close() error
}

// TxStore is a Store that can also write inside a caller's transaction.
type TxStore interface {
	Store
	// AppendTx is Append inside tx: nothing is committed until the caller
	// commits tx.
	AppendTx(ctx context.Context, tx *sqlx.Tx, events []Event) ([]AppendResult, error)
}

// AppendResult is the outcome of one event of an Append.
type AppendResult struct {
	// Event is the event as stored, or the earlier event with the same
	// idempotency key.
	Event Event
	// Err concerns this event only.
	Err error
}

// DerivedChecker is a Store that keeps tables derived from the log (totals,
// a typeahead catalogue) and can recount them. Verify calls it once the
// chain is intact.
type DerivedChecker interface {
	// CheckDerived recounts the derived tables from the log, in one
	// snapshot, and returns "" when they agree, or what disagrees first.
	CheckDerived(ctx context.Context) (problem string, err error)
}

// Notifier is a Store that hears of the commits of every process on its
// database (the PostgreSQL store, through LISTEN/NOTIFY). While a Tail
// runs, the Logger listens through it and wakes its tails at each commit,
// so that events written by other processes arrive at once rather than at
// the next poll (WithTailPoll), which stays as a fallback.
type Notifier interface {
	Store
	// Notifications yields 0 once it is listening (a read that starts
	// after that misses no commit it will not hear of), then the Seq of
	// the newest event of each commit to the log, by any process, in the
	// order the commits notify; until ctx ends (it then stops without an
	// error) or the caller stops. When listening fails it yields an error
	// once, then stops.
	Notifications(ctx context.Context) iter.Seq2[int64, error]
}

// Backuper is a Store that can copy itself while writers run.
type Backuper interface {
	// Backup writes a consistent copy of the store to a new file at path,
	// which can be opened and verified on its own.
	Backup(ctx context.Context, path string) error
}
