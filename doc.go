// Package audit is an embeddable, in-process audit log with a SQLite store.
//
// It records who did what to which resource, keeps those rows append-only
// and tamper-evident, and answers the questions of an admin page, a
// typeahead box and a compliance officer:
//
//	log, err := audit.Open(ctx, "audit.db")
//	...
//	_, err = log.Track(ctx, user, "project.deleted", project)
//	page, err := log.Recent(ctx, audit.Query{PerPage: 50})
//	hits, err := log.Search(ctx, "inv", audit.Query{})
//
// # Writing
//
// Track and Record return only after the event is committed. Concurrent
// callers share transactions (group commit): one caller at a time leads,
// commits everything queued in one IMMEDIATE transaction and then hands each
// caller its result. Validation happens before the queue, so one invalid event
// never fails its neighbours; an error of the transaction reaches every
// caller of that batch and nothing of it is stored. A cancelled context
// never withdraws an accepted event (the action happened); WithWriteTimeout
// bounds the wait instead. Events are capped in size (WithMaxEventBytes,
// WithMaxMetadataBytes) with work in proportion to the cap. TrackTx and
// RecordTx write inside the caller's own transaction instead.
//
// Actors, resources and targets are Refs. Track accepts an untyped nil (the
// system), a Ref, a type with an AuditRef method, or any struct with an
// exported ID field; it refuses a nil pointer, which is not the system; see
// RefOf.
//
// # Storage
//
// Open uses a SQLite file (modernc.org/sqlite, no cgo) in WAL mode: one
// writer connection and a pool of read-only readers. The schema (schema.sql)
// is applied by versioned migrations recorded in audit_schema_migrations.
// Triggers make audit_events append-only for every connection, the sqlite3
// shell included. New builds a Logger on any Store; NewSQLiteStore puts the
// tables in an application's own *sqlx.DB. Every Store passes the
// conformance suite in package audittest. WithReadOnly opens an existing
// log for reading only, even while another process writes it: nothing is
// migrated or written, writes fail with ErrReadOnly, and a schema newer or
// older than this release's is refused (ErrSchemaTooNew,
// ErrSchemaNotMigrated). The audit command (cmd/audit) opens logs so. A
// log a newer release migrated is refused for writing too
// (ErrSchemaTooNew): an older release would not keep its tables as the
// newer one does.
//
// # Reading
//
// Recent, ForAccount and Search return a Page: entries newest first, page
// numbers, an exact total and an opaque cursor (Page.Next) that continues by
// keyset and is bound to the query and view that made it. The totals of
// the common shapes come from counters (folded in every hundred or so
// events, plus the events since, read from an index), and typeahead
// (Search, Actions) reads a catalogue of actions kept in the write
// transaction, so neither scans the log.
//
// # Tenants
//
// Open and New return the root logger, which reads the default tenant "",
// records events into the tenant they name, and alone may Close the log,
// reach its Store and make AllTenants, the operator's view that reads every
// tenant (Query.Tenant narrows it to one). WithTenant(t) returns the view
// of t, whose writes are stamped with t and whose reads see nothing else.
// Views are capabilities: one never becomes a wider one, and asking fails
// with ErrOutOfScope. Seq, Checkpoint and Verify are global.
//
// # Integrity
//
// Every event carries a SHA-256 hash chained to the previous one over a
// versioned canonical encoding (see Canonical), and has one valid stored
// form: storage classes and canonical JSON included. Verify walks the chain
// and names the first event that was changed (in value or storage class),
// removed, forged, reordered or re-laid out, and recounts the totals and the
// typeahead catalogue; Checkpoint pins the head (signed with Ed25519 when
// configured) so that a truncated or rewritten tail is caught too. Backup
// copies the log while writers run. See SECURITY.md for exactly what is and
// is not guaranteed.
//
// # Listening
//
// Listen records the messages of a Subscriber, such as the in-process Bus,
// acknowledging each only after its event is committed and deduplicating
// redeliveries by idempotency key. A write that fails for a passing reason
// is retried in place with a capped, jittered exponential back-off
// (WithRetryBackoff), and the error handler hears of a failing stretch
// once, and of its end. Listening without topics needs a subscriber that
// can mean "every topic" (AllTopicsSubscriber). The module
// github.com/trailkit/audit/watermill adapts any watermill subscriber.
package audit
