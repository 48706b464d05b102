// Package sqlcore is what every SQL store of the audit log shares: the
// stored row and its columns, filters turned into SQL, the counter policy
// that keeps totals exact, the typeahead terms of an action, and the append
// step that reads the chain head, resolves idempotency keys, chains,
// inserts and counts inside one transaction. The SQLite store of package
// audit and the PostgreSQL store of module github.com/trailkit/audit/postgres
// both run on it; each adds only what is its own (opening, migrations,
// locks, error codes), through a Dialect.
//
// The package cannot import package audit (which imports it), so it works
// on Rows and on its own Filter, and reaches the audit package's events
// through a Codec that package provides (audit.SQLCodec): how an event
// becomes a row, is read back, and is hashed into the chain.
//
// Queries are written with ? placeholders and rebound by the Dialect; the
// values bound to them go through Dialect.Args. Values reach SQL only as
// bound parameters; names (columns, indexes, counter
// kinds) come only from constants here.
package sqlcore
