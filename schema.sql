-- The audit schema, applied by versioned migrations.
--
-- Each migration starts with a line "-- migration N: description". Migrations
-- are applied in order, once, inside one IMMEDIATE transaction per Open, and
-- recorded in audit_schema_migrations (not PRAGMA user_version: the database
-- file may belong to the application). Never edit a migration that has
-- shipped; append a new one.

-- migration 1: events, counters, action catalogue, append-only triggers

-- audit_events is the log. seq is the gapless position of the event (the
-- rowid), id the opaque identifier handed to callers. Times are Unix
-- nanoseconds, UTC. targets and metadata are JSON (NULL when empty).
-- prev_hash and hash hold the hash chain.
CREATE TABLE audit_events (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL,
    tenant          TEXT    NOT NULL DEFAULT '',
    action          TEXT    NOT NULL,
    actor_type      TEXT    NOT NULL DEFAULT '',
    actor_id        TEXT    NOT NULL DEFAULT '',
    actor_name      TEXT    NOT NULL DEFAULT '',
    resource_type   TEXT    NOT NULL DEFAULT '',
    resource_id     TEXT    NOT NULL DEFAULT '',
    resource_name   TEXT    NOT NULL DEFAULT '',
    targets         TEXT,
    outcome         TEXT    NOT NULL DEFAULT 'success',
    metadata        TEXT,
    idempotency_key TEXT,
    occurred_at     INTEGER NOT NULL,
    recorded_at     INTEGER NOT NULL,
    prev_hash       BLOB,
    hash            BLOB
);

-- Ids and idempotency keys (per tenant) are unique: the writer makes them
-- so inside its IMMEDIATE transaction. The indexes are deliberately not
-- UNIQUE, so that seq is the only key an INSERT OR REPLACE can conflict on,
-- and the trigger below refuses any seq but the next one.
CREATE INDEX audit_events_id ON audit_events (id);
CREATE INDEX audit_events_idempotency
    ON audit_events (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- One index per filtered query shape. Each entry also carries the rowid
-- (seq), so "WHERE tenant = ? AND x = ? ORDER BY seq DESC" walks the index
-- in order with no sort, and "seq < ?" continues a page by keyset.
CREATE INDEX audit_events_tenant   ON audit_events (tenant);
CREATE INDEX audit_events_action   ON audit_events (tenant, action);
CREATE INDEX audit_events_actor    ON audit_events (tenant, actor_id);
CREATE INDEX audit_events_resource ON audit_events (tenant, resource_id);

-- Append-only, enforced by the database for every connection, the sqlite3
-- shell included. INSERT OR REPLACE deletes without firing DELETE triggers,
-- so every insert must take the next seq: that refuses replacing a row (its
-- seq is taken), gaps, and rows before the chain (seq 0 or less).
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed');
END;

CREATE TRIGGER audit_events_next_seq BEFORE INSERT ON audit_events
WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit_events)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: an insert must take the next seq');
END;

-- audit_counts keeps exact totals for the common page shapes, updated in the
-- same transaction as the events, per tenant: kind 'total' (key ''),
-- 'actor' (actor_id), 'resource' (resource_id) and 'action' (the action).
-- The 'action' rows are also the catalogue of distinct actions.
CREATE TABLE audit_counts (
    tenant TEXT    NOT NULL,
    kind   TEXT    NOT NULL,
    key    TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (tenant, kind, key)
) WITHOUT ROWID;

-- audit_action_terms makes typeahead a range scan: for every action it holds
-- the lower-cased action (seg 0) and the lower-cased suffix starting at each
-- later dot-separated segment (seg 1, 2, ...). A term matches an action when
-- it is a prefix of one of these.
CREATE TABLE audit_action_terms (
    tenant TEXT    NOT NULL,
    term   TEXT    NOT NULL,
    action TEXT    NOT NULL,
    seg    INTEGER NOT NULL,
    PRIMARY KEY (tenant, term, action)
) WITHOUT ROWID;

-- audit_events_view shows the log with readable times, for the sqlite3 shell.
CREATE VIEW audit_events_view AS
SELECT seq, id, tenant, action,
       actor_type, actor_id, actor_name,
       resource_type, resource_id, resource_name,
       targets, outcome, metadata, idempotency_key,
       strftime('%Y-%m-%dT%H:%M:%fZ', occurred_at / 1000000000.0, 'unixepoch') AS occurred_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', recorded_at / 1000000000.0, 'unixepoch') AS recorded_at,
       hex(hash) AS hash
FROM audit_events;

-- migration 2: one stored form per event: hash_version per row, storage classes checked on insert

-- hash_version is the version of the canonical encoding the row's hash
-- covers (see chain.go). Rows written before this migration are version 1,
-- the column's default; the library writes version 2 and names it on
-- every insert.
ALTER TABLE audit_events ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;

-- The insert trigger of migration 1 is replaced by one that also refuses a
-- row in any other form than the one the library writes: text columns as
-- TEXT (a BLOB of the same bytes compares unequal to text and would hide
-- the row from queries), integers as INTEGER, hashes as BLOBs, and NULL
-- (never an empty string) for no targets, metadata or idempotency key.
-- Verify checks the same on every row, so a row edited with the triggers
-- dropped is reported too.
DROP TRIGGER audit_events_next_seq;

CREATE TRIGGER audit_events_insert BEFORE INSERT ON audit_events
WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit_events)
  OR typeof(NEW.id) != 'text' OR typeof(NEW.tenant) != 'text' OR typeof(NEW.action) != 'text'
  OR typeof(NEW.actor_type) != 'text' OR typeof(NEW.actor_id) != 'text' OR typeof(NEW.actor_name) != 'text'
  OR typeof(NEW.resource_type) != 'text' OR typeof(NEW.resource_id) != 'text' OR typeof(NEW.resource_name) != 'text'
  OR typeof(NEW.outcome) != 'text'
  OR typeof(NEW.targets) NOT IN ('null', 'text') OR NEW.targets = ''
  OR typeof(NEW.metadata) NOT IN ('null', 'text') OR NEW.metadata = ''
  OR typeof(NEW.idempotency_key) NOT IN ('null', 'text') OR NEW.idempotency_key = ''
  OR typeof(NEW.occurred_at) != 'integer' OR typeof(NEW.recorded_at) != 'integer'
  OR typeof(NEW.prev_hash) != 'blob' OR typeof(NEW.hash) != 'blob'
  OR typeof(NEW.hash_version) != 'integer'
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: an insert must take the next seq')
    WHERE NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit_events);
    SELECT RAISE(ABORT, 'audit_events: a column is not in the form the library writes (storage class, or an empty string for NULL)');
END;

-- migration 3: reads across tenants: counters by key, action terms by term

-- The AllTenants view merges one index range per tenant. The tenants that
-- have an action, actor or resource are its counter rows, found by key
-- here; an UPDATE of a counter's n leaves this index alone, only a new key
-- adds to it. The default tenant '' is left out (its row is one seek by
-- primary key), so that an application without tenants never writes it.
CREATE INDEX audit_counts_key ON audit_counts (kind, key) WHERE tenant <> '';

-- The (tenant, action) pairs a typeahead term matches, in every tenant.
CREATE INDEX audit_action_terms_term ON audit_action_terms (term, action, seg);

-- migration 4: the read model: request origin, subjects, the catalogue of actors and resources, failure totals

-- The request an event came from (Event.Origin), NULL when absent. The
-- chain covers them from version 3 of the canonical encoding on.
ALTER TABLE audit_events ADD COLUMN origin_ip TEXT;
ALTER TABLE audit_events ADD COLUMN origin_user_agent TEXT;
ALTER TABLE audit_events ADD COLUMN origin_request_id TEXT;

-- The insert trigger now checks the origin columns too.
DROP TRIGGER audit_events_insert;

CREATE TRIGGER audit_events_insert BEFORE INSERT ON audit_events
WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit_events)
  OR typeof(NEW.id) != 'text' OR typeof(NEW.tenant) != 'text' OR typeof(NEW.action) != 'text'
  OR typeof(NEW.actor_type) != 'text' OR typeof(NEW.actor_id) != 'text' OR typeof(NEW.actor_name) != 'text'
  OR typeof(NEW.resource_type) != 'text' OR typeof(NEW.resource_id) != 'text' OR typeof(NEW.resource_name) != 'text'
  OR typeof(NEW.outcome) != 'text'
  OR typeof(NEW.targets) NOT IN ('null', 'text') OR NEW.targets = ''
  OR typeof(NEW.metadata) NOT IN ('null', 'text') OR NEW.metadata = ''
  OR typeof(NEW.idempotency_key) NOT IN ('null', 'text') OR NEW.idempotency_key = ''
  OR typeof(NEW.occurred_at) != 'integer' OR typeof(NEW.recorded_at) != 'integer'
  OR typeof(NEW.prev_hash) != 'blob' OR typeof(NEW.hash) != 'blob'
  OR typeof(NEW.hash_version) != 'integer'
  OR typeof(NEW.origin_ip) NOT IN ('null', 'text') OR NEW.origin_ip = ''
  OR typeof(NEW.origin_user_agent) NOT IN ('null', 'text') OR NEW.origin_user_agent = ''
  OR typeof(NEW.origin_request_id) NOT IN ('null', 'text') OR NEW.origin_request_id = ''
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: an insert must take the next seq')
    WHERE NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit_events);
    SELECT RAISE(ABORT, 'audit_events: a column is not in the form the library writes (storage class, or an empty string for NULL)');
END;

-- Failures are few: a partial index per tenant, and one in seq order across
-- tenants (its key is the same for every row, so it orders by seq), make
-- the pages of Query.Outcome "failure" index ranges. Successes walk the
-- tenant's index, where nearly every row matches.
CREATE INDEX audit_events_failures ON audit_events (tenant) WHERE outcome = 'failure';
CREATE INDEX audit_events_failures_all ON audit_events (outcome) WHERE outcome = 'failure';

-- audit_targets makes the events about a subject (its resource or any of
-- its targets) an index range: one row per distinct target (id, type) of
-- an event, except a target equal to the event's resource, which the
-- resource index already finds.
CREATE TABLE audit_targets (
    tenant TEXT    NOT NULL,
    id     TEXT    NOT NULL,
    type   TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (tenant, id, seq, type)
) WITHOUT ROWID;

-- audit_refs is the catalogue of actors, resources and targets, with the
-- number of events of each (id, type) and the latest name it carried: the
-- totals of the actor, resource and subject filters, and the suggestions
-- of a search box. kind is 'actor', 'resource' or 'target' ('target'
-- counts the events that name the ref among their targets but not as their
-- resource). renamed tells the writer that the last event changed the
-- name, so that it adds the new name's typeahead term.
CREATE TABLE audit_refs (
    tenant  TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    type    TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    renamed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, kind, id, type)
) WITHOUT ROWID;
CREATE INDEX audit_refs_key ON audit_refs (kind, id) WHERE tenant <> '';

-- audit_ref_terms makes suggestions a range scan: every lower-cased name of
-- each actor (kind 'actor') and of each resource or target (kind
-- 'resource'), and its lower-cased ID where that differs from the ID (an ID
-- already in lower case is found by a range of audit_refs itself, so most
-- refs write one term, not two).
CREATE TABLE audit_ref_terms (
    tenant TEXT NOT NULL,
    term   TEXT NOT NULL,
    kind   TEXT NOT NULL,
    id     TEXT NOT NULL,
    type   TEXT NOT NULL,
    PRIMARY KEY (tenant, term, kind, id, type)
) WITHOUT ROWID;
CREATE INDEX audit_ref_terms_term ON audit_ref_terms (term, kind, id, type) WHERE tenant <> '';

-- The actor and resource counters move to audit_refs (by id and type; the
-- total of an id is the sum over its types). audit_counts keeps the
-- tenant's total, each action, the failures (kind 'failure', key '') and,
-- per target id, the events that name it among their targets but not as
-- their resource (kind 'target'). The new tables are filled from the
-- events by the library right after this migration, in the same
-- transaction (the same code that keeps them on write).
DELETE FROM audit_counts WHERE kind IN ('actor', 'resource');

-- migration 5: counts folded in every hundred or so events, read through views that add the events since

-- The counts of audit_counts and audit_refs hold the events up to
-- audit_fold's seq; the write path folds the later ones in every hundred
-- or so events (internal/sqlcore/fold.go), where it used to add to them
-- in every commit. The rows themselves (the keys, the refs' latest names)
-- and audit_targets are kept in every commit. The derived tables are
-- whole when this migration runs.
CREATE TABLE audit_fold (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO audit_fold (id, seq) SELECT 1, coalesce(max(seq), 0) FROM audit_events;

-- audit_counts_now and audit_refs_now are the tables with every count
-- whole: each row's n adds the events after the fold that it counts, an
-- index range past the fold's seq (the rowid ends every index of
-- audit_events). Reads use them; only the write path and Verify's
-- checks of the folded counts read the tables.
CREATE VIEW audit_counts_now AS
SELECT c.tenant AS tenant, c.kind AS kind, c.key AS key, c.n + CASE c.kind
    WHEN 'total' THEN (SELECT count(*) FROM audit_events e
        WHERE e.tenant = c.tenant AND e.seq > (SELECT seq FROM audit_fold))
    WHEN 'action' THEN (SELECT count(*) FROM audit_events e
        WHERE e.tenant = c.tenant AND e.action = c.key AND e.seq > (SELECT seq FROM audit_fold))
    WHEN 'failure' THEN (SELECT count(*) FROM audit_events e
        WHERE e.tenant = c.tenant AND e.outcome = 'failure' AND e.seq > (SELECT seq FROM audit_fold))
    WHEN 'target' THEN (SELECT count(DISTINCT t.seq) FROM audit_targets t JOIN audit_events e ON e.seq = t.seq
        WHERE t.tenant = c.tenant AND t.id = c.key AND t.seq > (SELECT seq FROM audit_fold) AND e.resource_id <> c.key)
    ELSE 0 END AS n
FROM audit_counts c;

CREATE VIEW audit_refs_now AS
SELECT r.tenant AS tenant, r.kind AS kind, r.id AS id, r.type AS type, r.name AS name, r.n + CASE r.kind
    WHEN 'actor' THEN (SELECT count(*) FROM audit_events e
        WHERE e.tenant = r.tenant AND e.actor_id = r.id AND e.seq > (SELECT seq FROM audit_fold) AND e.actor_type = r.type)
    WHEN 'resource' THEN (SELECT count(*) FROM audit_events e
        WHERE e.tenant = r.tenant AND e.resource_id = r.id AND e.seq > (SELECT seq FROM audit_fold) AND e.resource_type = r.type)
    WHEN 'target' THEN (SELECT count(*) FROM audit_targets t
        WHERE t.tenant = r.tenant AND t.id = r.id AND t.seq > (SELECT seq FROM audit_fold) AND t.type = r.type)
    ELSE 0 END AS n
FROM audit_refs r;
