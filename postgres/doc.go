// Package postgres is the audit log's Store on PostgreSQL, for applications
// that run on several machines and share one database:
//
//	store, err := postgres.Open(ctx, dsn)
//	log, err := audit.New(store)
//
// It runs the same SQL as the SQLite store (the repository's
// internal/sqlcore, through audit.SQLCodec) and gives the same guarantees:
// exact totals from counters kept in the write transaction, typeahead and
// suggestions from catalogues, the events of a subject from an index of
// targets, keyset paging and walks (All, Tail, Export), one hash chain over
// every event, and a recount of every derived table in Verify.
//
// The pool needs four connections at least: one for appends, one for the
// listener of a Logger's tails (see Notifications), two for Verify's
// recount, which reads two ordered results side by side.
//
// # Many writers on many machines
//
// Each process runs its own Logger, which batches its callers into shared
// transactions (group commit). Appends from every process are serialized on
// the head of the chain inside the transaction: a transaction-level
// advisory lock keyed on the events table, taken first, so
// that each transaction reads the head that the previous one committed and
// Seq stays gapless and the chain unbroken across machines. Transactions
// run at READ COMMITTED and take their locks in one order, so they neither
// deadlock nor fail to serialize; should the server still report either
// (SQLSTATE 40001, 40P01), the append is retried, a bounded number of
// times, and the caller sees nothing of it.
//
// AppendTx (Logger.TrackTx and RecordTx) takes the same lock inside the
// caller's transaction and holds it until that transaction ends: every
// other writer waits meanwhile. Call TrackTx last, just before Commit. The
// caller's transaction must be READ COMMITTED (PostgreSQL's default).
//
// # Stored form
//
// Every text column is BYTEA holding UTF-8, because TEXT cannot hold the
// byte 0x00 and every valid UTF-8 string must round-trip; BYTEA compares
// bytewise like SQLite's BINARY collation. Times are BIGINT Unix
// nanoseconds (the chain covers nanoseconds; timestamptz keeps
// microseconds). Targets and metadata are the canonical JSON the chain
// covers, byte for byte. The view audit_events_view shows the log as text.
//
// # Append-only
//
// Triggers refuse UPDATE, DELETE and TRUNCATE on audit_events for every
// role, its owner included, and refuse an insert that does not take the
// next Seq or is not in the form the library writes. An application role
// needs only INSERT and SELECT on the log (see the README for the GRANTs).
// A superuser can still switch triggers off: Verify reports what was
// changed.
//
// # Notifications
//
// Every commit that appends events sends NOTIFY on NotifyChannel with the
// Seq of the newest event it appended as the payload, and nothing else, so
// that a reader that LISTENs learns that the log moved and reads from its
// last Seq. Store.Notifications listens for you. The Store is an
// audit.Notifier: while a Logger's Tail runs, the Logger listens through
// it, so that its tails yield the events of every process at once, not at
// their next poll.
//
// # Row-level security
//
// The schema carries a tenant policy keyed on the session setting
// audit.tenant, inert until row-level security is switched on
// (WithRowLevelSecurity): then a role other than the tables' owner sees
// only the rows of the tenant its session names, in the log and in every
// table derived from it.
package postgres
