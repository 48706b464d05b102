-- The audit schema on PostgreSQL, applied by versioned migrations.
--
-- Each migration starts with a line "-- migration N: description". Open
-- applies the ones the database lacks in order, in one transaction, under a
-- transaction-level advisory lock, so that app servers starting together
-- migrate once; each is recorded in audit_schema_migrations. Never edit a
-- migration that has shipped; append a new one.
--
-- Every text column is BYTEA holding UTF-8: PostgreSQL's TEXT cannot hold
-- the byte 0x00, and every valid UTF-8 string must round-trip. BYTEA also
-- compares bytewise, like SQLite's BINARY collation, which the shared code
-- (internal/sqlcore) relies on when it merges ordered reads. The
-- audit_events_view below shows the log as text.

-- migration 1: events, counters, catalogues of actions, actors and resources, targets, append-only triggers, tenant policies

-- (Migration 1 holds what SQLite's migrations 1 to 4 hold: no release of
-- this store shipped before the read model, so its first migration is the
-- whole schema.)

-- audit_events is the log. seq is the gapless position of the event, id the
-- opaque identifier handed to callers. Times are Unix nanoseconds, UTC.
-- targets and metadata hold the canonical JSON the chain covers (NULL when
-- empty). prev_hash and hash hold the hash chain; hash_version is the
-- version of the canonical encoding the hash covers. The origin columns
-- hold the request the event came from (Event.Origin), NULL when absent;
-- the chain covers them from version 3 of the canonical encoding on.
CREATE TABLE audit_events (
    seq             BIGINT  PRIMARY KEY,
    id              BYTEA   NOT NULL,
    tenant          BYTEA   NOT NULL DEFAULT '',
    action          BYTEA   NOT NULL,
    actor_type      BYTEA   NOT NULL DEFAULT '',
    actor_id        BYTEA   NOT NULL DEFAULT '',
    actor_name      BYTEA   NOT NULL DEFAULT '',
    resource_type   BYTEA   NOT NULL DEFAULT '',
    resource_id     BYTEA   NOT NULL DEFAULT '',
    resource_name   BYTEA   NOT NULL DEFAULT '',
    targets         BYTEA,
    outcome         BYTEA   NOT NULL DEFAULT 'success',
    metadata        BYTEA,
    idempotency_key BYTEA,
    occurred_at     BIGINT  NOT NULL,
    recorded_at     BIGINT  NOT NULL,
    prev_hash       BYTEA   NOT NULL,
    hash            BYTEA   NOT NULL,
    hash_version    INTEGER NOT NULL,
    origin_ip         BYTEA,
    origin_user_agent BYTEA,
    origin_request_id BYTEA
);

-- Ids and idempotency keys (per tenant) are unique: the writer makes them
-- so under the head lock. The indexes are not UNIQUE, as on SQLite.
CREATE INDEX audit_events_id ON audit_events (id);
CREATE INDEX audit_events_idempotency
    ON audit_events (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- One index per filtered query shape, each ending in seq, so that
-- "WHERE tenant = $1 AND x = $2 ORDER BY seq DESC" walks the index in
-- order with no sort, and "seq < $3" continues a page by keyset.
CREATE INDEX audit_events_tenant   ON audit_events (tenant, seq);
CREATE INDEX audit_events_action   ON audit_events (tenant, action, seq);
CREATE INDEX audit_events_actor    ON audit_events (tenant, actor_id, seq);
CREATE INDEX audit_events_resource ON audit_events (tenant, resource_id, seq);

-- Failures are few: a partial index per tenant, and one in seq order across
-- tenants, make the pages of Query.Outcome "failure" index ranges.
-- Successes walk the tenant's index, where nearly every row matches.
CREATE INDEX audit_events_failures     ON audit_events (tenant, seq) WHERE outcome = 'failure';
CREATE INDEX audit_events_failures_all ON audit_events (seq) WHERE outcome = 'failure';

-- Append-only, enforced by the database for every role, the table's owner
-- included: UPDATE, DELETE and TRUNCATE are refused, and an insert must
-- take the next seq and be in the one form the library writes. A
-- superuser can still switch triggers off (session_replication_role,
-- ALTER TABLE ... DISABLE TRIGGER); Verify catches what is changed then.
CREATE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse();

-- audit_utf8 raises an error unless b is valid UTF-8 (0x00 included, which
-- convert_from alone refuses).
CREATE FUNCTION audit_utf8(b BYTEA) RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    i INTEGER;
BEGIN
    LOOP
        i := position('\x00'::bytea IN b);
        IF i = 0 THEN
            PERFORM convert_from(b, 'UTF8');
            RETURN;
        END IF;
        PERFORM convert_from(substr(b, 1, i - 1), 'UTF8');
        b := substr(b, i + 1);
    END LOOP;
END
$$;

-- The insert trigger runs as the table's owner (SECURITY DEFINER), so that
-- it sees the whole log when row-level security hides rows from the role
-- that inserts. Rows of one INSERT are checked in order, each seeing the
-- ones before it.
CREATE FUNCTION audit_events_insert() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT AS $$
BEGIN
    IF NEW.seq IS DISTINCT FROM (SELECT coalesce(max(seq), 0) + 1 FROM audit_events) THEN
        RAISE EXCEPTION 'audit_events is append-only: an insert must take the next seq'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.targets = '' OR NEW.metadata = '' OR NEW.idempotency_key = ''
        OR NEW.origin_ip = '' OR NEW.origin_user_agent = '' OR NEW.origin_request_id = ''
        OR octet_length(NEW.prev_hash) <> 32 OR octet_length(NEW.hash) <> 32 THEN
        RAISE EXCEPTION 'audit_events: a column is not in the form the library writes (an empty string for NULL, a hash of another size)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- One check of every text column, each followed by a newline: a byte
    -- sequence cut at the end of one column cannot complete at the start
    -- of the next.
    PERFORM audit_utf8(NEW.id || '\x0a'::bytea || NEW.tenant || '\x0a'::bytea || NEW.action || '\x0a'::bytea
        || NEW.actor_type || '\x0a'::bytea || NEW.actor_id || '\x0a'::bytea || NEW.actor_name || '\x0a'::bytea
        || NEW.resource_type || '\x0a'::bytea || NEW.resource_id || '\x0a'::bytea || NEW.resource_name || '\x0a'::bytea
        || NEW.outcome || '\x0a'::bytea || coalesce(NEW.targets, '') || '\x0a'::bytea
        || coalesce(NEW.metadata, '') || '\x0a'::bytea || coalesce(NEW.idempotency_key, '') || '\x0a'::bytea
        || coalesce(NEW.origin_ip, '') || '\x0a'::bytea || coalesce(NEW.origin_user_agent, '') || '\x0a'::bytea
        || coalesce(NEW.origin_request_id, ''));
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_events_insert BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_insert();

-- audit_counts keeps exact totals, updated in the same transaction as the
-- events, per tenant: kind 'total' (key ''), 'action' (the action),
-- 'failure' (key '') and 'target' (per target id, the events that name it
-- among their targets but not as their resource). The 'action' rows are
-- also the catalogue of distinct actions. The counters of actors and
-- resources are in audit_refs.
CREATE TABLE audit_counts (
    tenant BYTEA  NOT NULL,
    kind   BYTEA  NOT NULL,
    key    BYTEA  NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (tenant, kind, key)
);

-- The tenants that have a key, for reads across tenants; the default tenant
-- '' is left out (one seek by primary key), as on SQLite.
CREATE INDEX audit_counts_key ON audit_counts (kind, key) WHERE tenant <> '';

-- audit_action_terms makes typeahead a range scan: for every action the
-- lower-cased action (seg 0) and the lower-cased suffix starting at each
-- later dot-separated segment (seg 1, 2, ...).
CREATE TABLE audit_action_terms (
    tenant BYTEA   NOT NULL,
    term   BYTEA   NOT NULL,
    action BYTEA   NOT NULL,
    seg    INTEGER NOT NULL,
    PRIMARY KEY (tenant, term, action)
);

CREATE INDEX audit_action_terms_term ON audit_action_terms (term, action, seg);

-- audit_targets makes the events about a subject (its resource or any of
-- its targets) an index range: one row per distinct target (id, type) of
-- an event, except a target equal to the event's resource, which the
-- resource index already finds.
CREATE TABLE audit_targets (
    tenant BYTEA  NOT NULL,
    id     BYTEA  NOT NULL,
    type   BYTEA  NOT NULL,
    seq    BIGINT NOT NULL,
    PRIMARY KEY (tenant, id, seq, type)
);

-- audit_refs is the catalogue of actors, resources and targets, with the
-- number of events of each (id, type) and the latest name it carried: the
-- totals of the actor, resource and subject filters, and the suggestions
-- of a search box. kind is 'actor', 'resource' or 'target' ('target'
-- counts the events that name the ref among their targets but not as their
-- resource). renamed tells the writer that the last event changed the
-- name, so that it adds the new name's typeahead term.
CREATE TABLE audit_refs (
    tenant  BYTEA   NOT NULL,
    kind    BYTEA   NOT NULL,
    id      BYTEA   NOT NULL,
    type    BYTEA   NOT NULL,
    name    BYTEA   NOT NULL,
    n       BIGINT  NOT NULL,
    renamed BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, kind, id, type)
);
CREATE INDEX audit_refs_key ON audit_refs (kind, id) WHERE tenant <> '';

-- audit_ref_terms makes suggestions a range scan: every lower-cased name of
-- each actor (kind 'actor') and of each resource or target (kind
-- 'resource'), and its lower-cased ID where that differs from the ID (an ID
-- already in lower case is found by a range of audit_refs itself).
CREATE TABLE audit_ref_terms (
    tenant BYTEA NOT NULL,
    term   BYTEA NOT NULL,
    kind   BYTEA NOT NULL,
    id     BYTEA NOT NULL,
    type   BYTEA NOT NULL,
    PRIMARY KEY (tenant, term, kind, id, type)
);
CREATE INDEX audit_ref_terms_term ON audit_ref_terms (term, kind, id, type) WHERE tenant <> '';

-- audit_targets_of returns the id and type ('' when absent) of each target
-- of an event, as bytes, from its targets column (canonical JSON), for the
-- recount of audit_targets and of the target counters in Verify. jsonb
-- reads them, except that it refuses the escape \u0000 (no TEXT holds the
-- byte 0x00): the targets of an event that has one are first rewritten so
-- that jsonb yields bytea's escape format, which decode() reads into bytes:
-- each escaped backslash (\\) doubled, then each \u0000 that is an escape
-- (after an even run of backslashes) written as an escaped \000.
-- '\x5c7530303030' is the six bytes of the text \u0000.
CREATE FUNCTION audit_targets_of(targets BYTEA) RETURNS TABLE (id BYTEA, type BYTEA)
LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to(coalesce(t->>'id', ''), 'UTF8'), convert_to(coalesce(t->>'type', ''), 'UTF8')
    FROM jsonb_array_elements(CASE WHEN position('\x5c7530303030'::bytea IN targets) = 0
        THEN convert_from(targets, 'UTF8')::jsonb END) t
    UNION ALL
    SELECT decode(coalesce(t->>'id', ''), 'escape'), decode(coalesce(t->>'type', ''), 'escape')
    FROM jsonb_array_elements(CASE WHEN position('\x5c7530303030'::bytea IN targets) > 0
        THEN regexp_replace(replace(convert_from(targets, 'UTF8'), '\\', '\\\\'),
            '(?<!\\)((?:\\\\)*)\\u0000', '\1\\\\000', 'g')::jsonb END) t
$$;

-- The tenant policies, inert until row-level security is switched on
-- (WithRowLevelSecurity, or ALTER TABLE ... ENABLE ROW LEVEL SECURITY on
-- each of the six tables): a role other than the tables' owner (or one with
-- BYPASSRLS) then sees and inserts only the rows of the tenant its session
-- names with SET audit.tenant = 'acme' ('' for the default tenant), and
-- none while it names none.
CREATE POLICY audit_events_tenant ON audit_events
    USING (tenant = convert_to(current_setting('audit.tenant', true), 'UTF8'))
    WITH CHECK (tenant = convert_to(current_setting('audit.tenant', true), 'UTF8'));
CREATE POLICY audit_counts_tenant ON audit_counts
    USING (tenant = convert_to(current_setting('audit.tenant', true), 'UTF8'))
    WITH CHECK (tenant = convert_to(current_setting('audit.tenant', true), 'UTF8'));
CREATE POLICY audit_action_terms_tenant ON audit_action_terms
    USING (tenant = convert_to(current_setting('audit.tenant', true), 'UTF8'))
    WITH CHECK (tenant = convert_to(current_setting('audit.tenant', true), 'UTF8'));
CREATE POLICY audit_targets_tenant ON audit_targets
    USING (tenant = convert_to(current_setting('audit.tenant', true), 'UTF8'))
    WITH CHECK (tenant = convert_to(current_setting('audit.tenant', true), 'UTF8'));
CREATE POLICY audit_refs_tenant ON audit_refs
    USING (tenant = convert_to(current_setting('audit.tenant', true), 'UTF8'))
    WITH CHECK (tenant = convert_to(current_setting('audit.tenant', true), 'UTF8'));
CREATE POLICY audit_ref_terms_tenant ON audit_ref_terms
    USING (tenant = convert_to(current_setting('audit.tenant', true), 'UTF8'))
    WITH CHECK (tenant = convert_to(current_setting('audit.tenant', true), 'UTF8'));

-- audit_events_view shows the log with text and readable times, for psql.
-- A value holding 0x00, which TEXT cannot, is shown escaped. It reads as
-- the role that queries it (security_invoker), so row-level security
-- applies through it too.
CREATE FUNCTION audit_text(b BYTEA) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN b IS NULL THEN NULL
                WHEN position('\x00'::bytea IN b) = 0 THEN convert_from(b, 'UTF8')
                ELSE encode(b, 'escape') END
$$;

CREATE VIEW audit_events_view WITH (security_invoker = true) AS
SELECT seq, audit_text(id) AS id, audit_text(tenant) AS tenant, audit_text(action) AS action,
       audit_text(actor_type) AS actor_type, audit_text(actor_id) AS actor_id, audit_text(actor_name) AS actor_name,
       audit_text(resource_type) AS resource_type, audit_text(resource_id) AS resource_id,
       audit_text(resource_name) AS resource_name, audit_text(targets) AS targets,
       audit_text(outcome) AS outcome, audit_text(metadata) AS metadata,
       audit_text(idempotency_key) AS idempotency_key,
       to_timestamp(occurred_at / 1e9) AS occurred_at, to_timestamp(recorded_at / 1e9) AS recorded_at,
       audit_text(origin_ip) AS origin_ip, audit_text(origin_user_agent) AS origin_user_agent,
       audit_text(origin_request_id) AS origin_request_id,
       encode(hash, 'hex') AS hash, hash_version
FROM audit_events;

-- migration 2: the counts read through views

-- The shared reads take every count from audit_counts_now and
-- audit_refs_now. On SQLite these add the events after the last fold to
-- counts folded in every hundred or so events; here the write transaction
-- still keeps the counts itself (the fold is built and measured on
-- SQLite, whose single writer it serves), so the views are the tables.
-- They read as the role that queries them (security_invoker): row-level
-- security applies through them.
CREATE VIEW audit_counts_now WITH (security_invoker = true) AS
SELECT tenant, kind, key, n FROM audit_counts;

CREATE VIEW audit_refs_now WITH (security_invoker = true) AS
SELECT tenant, kind, id, type, name, n FROM audit_refs;

-- A role that could read a table before this migration can read its view.
DO $$
DECLARE g record;
BEGIN
    FOR g IN SELECT DISTINCT grantee, table_name FROM information_schema.role_table_grants
        WHERE table_schema = current_schema() AND table_name IN ('audit_counts', 'audit_refs')
          AND privilege_type = 'SELECT' AND grantee <> current_user
    LOOP
        EXECUTE format('GRANT SELECT ON %I TO %s', g.table_name || '_now',
            CASE WHEN g.grantee = 'PUBLIC' THEN 'PUBLIC' ELSE quote_ident(g.grantee) END);
    END LOOP;
END
$$;
