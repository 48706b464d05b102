package sqlcore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
)

// ActionCount is an action of the catalogue with the number of events
// that carry it.
type ActionCount struct {
	Action string
	Count  int64
}

// Get returns the event with id in the tenants scope selects, or an error
// wrapping sql.ErrNoRows.
func (s *Store[E]) Get(ctx context.Context, q Querier, scope Filter, id string) (E, error) {
	query, args := s.getSQL(scope, id)
	var r Row
	if err := q.QueryRowxContext(ctx, s.Dialect.Rebind(query), s.Dialect.Args(args)...).Scan(r.Dest()...); err != nil {
		var zero E
		if errors.Is(err, sql.ErrNoRows) {
			return zero, err
		}
		return zero, s.Dialect.Classify(err)
	}
	return s.Codec.Decode(&r)
}

// getSQL looks id up in the id index, not the tenant's: the planner would
// otherwise prefer the tenant index and scan the tenant.
func (s *Store[E]) getSQL(scope Filter, id string) (string, []any) {
	if scope.AllTenants {
		return `SELECT ` + Columns + ` FROM audit_events WHERE id = ?`, []any{id}
	}
	return `SELECT ` + Columns + ` FROM audit_events WHERE id = ? AND ` + s.Dialect.Unindexed("tenant") + ` = ?`, []any{id, scope.Tenant}
}

// maxUnionActions is how many matched actions a Search page of one tenant
// merges one by one (each from its own index range); past that it walks
// the tenant by seq, where so many matching actions make matches dense.
const maxUnionActions = 64

// List returns up to limit events that f matches, in f's order, after
// cursor (by seq, in that order) when cursor > 0, skipping offset; and the
// exact number of events f matches, read in tx, the same snapshot.
func (s *Store[E]) List(ctx context.Context, tx ReadTx, f Filter, cursor int64, offset, limit int) ([]E, int64, error) {
	if f.AllTenants {
		return s.listAllTenants(ctx, tx, f, cursor, offset, limit, true)
	}
	if f.everything() {
		return s.listTenant(ctx, tx, f, cursor, offset, limit)
	}
	var actions []ActionCount
	if f.Search != "" {
		var err error
		if actions, err = s.matchActions(ctx, tx, f.Tenant, f.Search, 0); err != nil {
			return nil, 0, err
		}
		if f.Action != "" {
			actions = keepAction(actions, f.Action)
		}
		if len(actions) == 0 {
			return nil, 0, nil
		}
	}
	query, args := s.listSQL(f, actions, cursor, offset, limit)
	events, err := s.queryEvents(ctx, tx, query, args, limit)
	if err != nil {
		return nil, 0, err
	}
	total, err := s.count(ctx, tx, f, actions)
	if err != nil {
		return nil, 0, err
	}
	return events, total, nil
}

// Range returns up to limit events that f matches, in f's order, after
// cursor when cursor > 0, without their total, for a walk of everything
// (audit.Logger.All, Tail, Export); and the seq through which it looked:
// the last event's when it returns limit events, otherwise the newest seq
// of the snapshot (for an oldest-first walk, nothing up to it is left to
// find).
func (s *Store[E]) Range(ctx context.Context, tx ReadTx, f Filter, cursor int64, limit int) ([]E, int64, error) {
	var head int64
	if err := tx.QueryRowxContext(ctx, sqlLogTotal).Scan(&head); err != nil {
		return nil, 0, err
	}
	var events []E
	var err error
	if f.AllTenants {
		events, _, err = s.listAllTenants(ctx, tx, f, cursor, 0, limit, false)
	} else {
		var actions []ActionCount
		if f.Search != "" {
			if actions, err = s.matchActions(ctx, tx, f.Tenant, f.Search, 0); err != nil {
				return nil, 0, err
			}
			if f.Action != "" {
				actions = keepAction(actions, f.Action)
			}
			if len(actions) == 0 {
				return nil, head, nil
			}
		}
		query, args := s.listSQL(f, actions, cursor, 0, limit)
		events, err = s.queryEvents(ctx, tx, query, args, limit)
	}
	if err != nil {
		return nil, 0, err
	}
	if len(events) == limit {
		return events, 0, nil // the caller knows the last seq
	}
	return events, head, nil
}

// sqlTenantTotal reads a tenant's total and the log's (its head's seq:
// seqs are gapless from 1) in one statement.
const sqlTenantTotal = `SELECT coalesce((SELECT n FROM audit_counts_now WHERE tenant = ? AND kind = ? AND key = ?), 0),
	coalesce((SELECT max(seq) FROM audit_events), 0)`

// listTenant is List for every event of one tenant (f.everything). When
// the tenant holds the whole log, as it does in a log without tenants, it
// walks the log by seq, testing each row's tenant, rather than walking
// the tenant's index with a lookup of each row in the log: the same rows,
// in the same order, for less work.
func (s *Store[E]) listTenant(ctx context.Context, tx ReadTx, f Filter, cursor int64, offset, limit int) ([]E, int64, error) {
	var total, head int64
	if err := tx.QueryRowxContext(ctx, s.Dialect.Rebind(sqlTenantTotal), s.Dialect.Args([]any{f.Tenant, kindTotal, ""})...).Scan(&total, &head); err != nil {
		return nil, 0, err
	}
	query, args := s.listSQL(f, nil, cursor, offset, limit)
	if total == head {
		query, args = s.walkTenantSQL(f, cursor, offset, limit)
	}
	events, err := s.queryEvents(ctx, tx, query, args, limit)
	if err != nil {
		return nil, 0, err
	}
	return events, total, nil
}

// walkTenantSQL builds the query of a page of every event of one tenant
// (f.everything) that walks the log by seq, from the cursor (or from the
// end of the log, as a range of the primary key), keeping the tenant's
// rows. It reads what listSQL's does, and reads no row of another tenant
// only when the tenant holds the whole log (see listTenant).
func (s *Store[E]) walkTenantSQL(f Filter, cursor int64, offset, limit int) (string, []any) {
	g := f
	g.AllTenants = true // the tenant's condition, unindexed, is below
	switch {
	case cursor > 0:
	case f.OldestFirst:
		g.FromSeq = 1
	default:
		cursor = math.MaxInt64
	}
	where, args := g.where("", cursor)
	return `SELECT ` + Columns + ` FROM audit_events WHERE ` + s.Dialect.Unindexed("tenant") + ` = ? AND ` + where +
			` ORDER BY seq ` + f.dir() + ` LIMIT ? OFFSET ?`,
		append(append([]any{f.Tenant}, args...), limit, offset)
}

func keepAction(actions []ActionCount, action string) []ActionCount {
	for _, a := range actions {
		if a.Action == action {
			return []ActionCount{a}
		}
	}
	return nil
}

// maxPrealloc bounds the events queryEvents makes room for before it
// reads them.
const maxPrealloc = 128

// queryEvents runs query (with ? placeholders), which returns at most
// limit rows, and decodes the events it returns. One Row and its
// destinations serve every row: scanning sets every field (a NULL to its
// zero value) and gives each []byte its own copy, and Decode keeps no
// pointer into the Row.
func (s *Store[E]) queryEvents(ctx context.Context, q Querier, query string, args []any, limit int) ([]E, error) {
	rows, err := q.QueryxContext(ctx, s.Dialect.Rebind(query), s.Dialect.Args(args)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []E
	if limit > 0 {
		out = make([]E, 0, min(limit, maxPrealloc))
	}
	var r Row
	scan := newRowScan(&r)
	for rows.Next() {
		if err := scan.scan(rows); err != nil {
			return nil, err
		}
		e, err := s.Codec.Decode(&r)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// actionsIn returns the condition that keeps the matched actions, on the
// action column of table t ("" for none).
func actionsIn(t string, actions []ActionCount) (string, []any) {
	if t != "" {
		t += "."
	}
	ph := make([]string, len(actions))
	args := make([]any, len(actions))
	for i, a := range actions {
		ph[i], args[i] = "?", a.Action
	}
	return t + "action IN (" + strings.Join(ph, ", ") + ")", args
}

// listSQL builds the query of a page of one tenant: one index range for
// plain filters; for a Search, one range per matching action merged by
// seq, or, past maxUnionActions, a walk of the tenant by seq; for a
// Subject, the range of its resource merged with the range of its targets.
func (s *Store[E]) listSQL(f Filter, actions []ActionCount, cursor int64, offset, limit int) (query string, args []any) {
	dir := f.dir()
	switch {
	case f.Subject != "":
		var extra string
		var eargs []any
		if f.Search != "" {
			extra, eargs = actionsIn("", actions)
		}
		inner, iargs := s.subjectSQL(f, extra, eargs, cursor, limit+offset)
		query = `SELECT ` + Columns + ` FROM audit_events WHERE seq IN (SELECT seq FROM (` + inner + `) subject ORDER BY seq ` + dir +
			` LIMIT ? OFFSET ?) ORDER BY seq ` + dir
		args = append(iargs, limit, offset)
	case f.Search == "":
		where, wargs := f.where("", cursor)
		query = `SELECT ` + Columns + ` FROM audit_events ` + s.tenantIndex(f) + `WHERE ` + where + ` ORDER BY seq ` + dir + ` LIMIT ? OFFSET ?`
		args = append(wargs, limit, offset)
	case len(actions) <= maxUnionActions:
		// One index range per action, each already in Seq order, merged.
		arms := make([]string, len(actions))
		for i, a := range actions {
			g := f
			g.Action = a.Action
			where, wargs := g.where("", cursor)
			arms[i] = `SELECT * FROM (SELECT ` + Columns + ` FROM audit_events WHERE ` + where + ` ORDER BY seq ` + dir + ` LIMIT ?) arm`
			args = append(args, wargs...)
			args = append(args, limit+offset)
		}
		query = `SELECT * FROM (` + strings.Join(arms, " UNION ALL ") + `) page ORDER BY seq ` + dir + ` LIMIT ? OFFSET ?`
		args = append(args, limit, offset)
	default:
		where, wargs := f.where("", cursor)
		cond, targs := termRange(f.Search)
		query = `SELECT ` + Columns + ` FROM audit_events ` + s.Dialect.IndexedBy("audit_events_tenant") + ` WHERE ` + where +
			` AND action IN (SELECT action FROM audit_action_terms WHERE tenant = ? AND ` + cond +
			`) ORDER BY seq ` + dir + ` LIMIT ? OFFSET ?`
		args = append(append(append(wargs, f.Tenant), targs...), limit, offset)
	}
	return query, args
}

// tenantIndex returns the index hint of a read of one tenant: the tenant's
// failures for Outcome "failure" without a key (the planner would pick
// the failures of every tenant), nothing otherwise.
func (s *Store[E]) tenantIndex(f Filter) string {
	if f.Outcome == OutcomeFailure && len(f.keys()) == 0 && !f.AllTenants {
		if hint := s.Dialect.IndexedBy("audit_events_failures"); hint != "" {
			return hint + " "
		}
	}
	return ""
}

// subjectSQL selects the seqs of the events of one tenant about f.Subject
// that f matches (and extra, a condition on audit_events), after cursor:
// the events whose resource is the subject, from the resource index, and
// those that name it among their targets, from audit_targets, each range
// in f's order and, with lim > 0, cut to lim. The two can share an event
// (a resource and a target of the same ID and other types): UNION keeps
// it once.
func (s *Store[E]) subjectSQL(f Filter, extra string, extraArgs []any, cursor int64, lim int) (string, []any) {
	dir := f.dir()
	limit := func(args []any) (string, []any) {
		if lim <= 0 {
			return "", args
		}
		return ` ORDER BY seq ` + dir + ` LIMIT ?`, append(args, lim)
	}
	if extra != "" {
		extra = " AND " + extra
	}
	// The resource arm: f's conditions, with the subject as resource;
	// across tenants, in the tenants that have it as a resource.
	r := f
	r.ResourceID, r.ResourceType = f.Subject, f.SubjectType
	where, args := r.where("", cursor)
	from := `audit_events`
	if f.AllTenants {
		tenants, targs := keyTenants(filterKey{kind: kindResource, key: f.Subject, typ: f.SubjectType})
		from = `audit_events ` + s.Dialect.IndexedBy("audit_events_resource")
		where, args = `tenant IN (SELECT tenant FROM (`+tenants+`) tenants) AND `+where, append(targs, args...)
	}
	tail, args := limit(append(args, extraArgs...))
	resource := `SELECT seq FROM ` + from + ` WHERE ` + where + extra + tail

	// The target arm: the subject's rows of audit_targets, joined to the
	// events for f's other conditions; the seq bounds on the target rows,
	// where the index has them.
	g := f
	g.FromSeq, g.ToSeq, g.AllTenants = 0, 0, true
	ewhere, eargs := g.where("e", 0)
	seq := Filter{FromSeq: f.FromSeq, ToSeq: f.ToSeq, OldestFirst: f.OldestFirst, AllTenants: true}
	swhere, sargs := seq.where("t", cursor)
	targs := []any{f.Tenant, f.Subject}
	tcond := `t.tenant = ? AND t.id = ?`
	if f.AllTenants {
		tenants, args := keyTenants(filterKey{kind: kindTarget, key: f.Subject, typ: f.SubjectType})
		tcond, targs = `t.tenant IN (SELECT tenant FROM (`+tenants+`) tenants) AND t.id = ?`, append(args, f.Subject)
	}
	if f.SubjectType != "" {
		tcond += ` AND t.type = ?`
		targs = append(targs, f.SubjectType)
	}
	targs = append(append(append(targs, sargs...), eargs...), extraArgs...)
	ttail, targs := limit(targs)
	target := `SELECT DISTINCT t.seq AS seq FROM audit_targets t JOIN audit_events e ON e.seq = t.seq WHERE ` + tcond +
		` AND ` + swhere + ` AND ` + ewhere + strings.ReplaceAll(extra, " action IN", " e.action IN") + ttail
	if lim > 0 {
		return `SELECT seq FROM (` + resource + `) r UNION SELECT seq FROM (` + target + `) g`, append(args, targs...)
	}
	return resource + ` UNION ` + target, append(args, targs...)
}

// SQL of the counters.
const (
	sqlCounter = `SELECT n FROM audit_counts_now WHERE tenant = ? AND kind = ? AND key = ?`
	sqlRefsOf  = `SELECT coalesce(sum(n), 0) FROM audit_refs_now WHERE tenant = ? AND kind = ? AND id = ?`
)

// count returns the total of f in one tenant: from the counters when they
// answer it (see counted), by counting over an index otherwise.
func (s *Store[E]) count(ctx context.Context, q Querier, f Filter, actions []ActionCount) (int64, error) {
	if f.Search != "" && !f.narrowed() && f.keyed() == 1+boolInt(f.Action != "") {
		// The matching actions, already narrowed to f.Action, with counts.
		var n int64
		for _, a := range actions {
			n += a.Count
		}
		return n, nil
	}
	if n, ok, err := s.counted(ctx, q, f); ok || err != nil {
		return n, err
	}
	var extra string
	var eargs []any
	if f.Search != "" {
		extra, eargs = actionsIn("", actions)
	}
	var query string
	var args []any
	if f.Subject != "" {
		inner, iargs := s.subjectSQL(f, extra, eargs, 0, 0)
		query, args = `SELECT count(*) FROM (`+inner+`) subject`, iargs
	} else {
		where, wargs := f.where("", 0)
		if extra != "" {
			where += " AND " + extra
		}
		query, args = `SELECT count(*) FROM audit_events `+s.tenantIndex(f)+`WHERE `+where, append(wargs, eargs...)
	}
	var n int64
	err := q.QueryRowxContext(ctx, s.Dialect.Rebind(query), s.Dialect.Args(args)...).Scan(&n)
	return n, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// counted returns the total of f in one tenant from the counters, with ok,
// for the shapes they answer: everything, one action, one outcome, one
// actor (with or without its type), one resource (idem), one subject
// (idem), with nothing else.
func (s *Store[E]) counted(ctx context.Context, q Querier, f Filter) (int64, bool, error) {
	if f.narrowed() || f.Search != "" || f.keyed() > 1 {
		return 0, false, nil
	}
	sum := func(query string, args []any) (int64, error) {
		var n int64
		err := q.QueryRowxContext(ctx, s.Dialect.Rebind(query), s.Dialect.Args(args)...).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return n, err
	}
	// Across tenants, the sum of the tenants' rows (through the key
	// indexes, which leave out the default tenant's row); the log's total
	// is its head's seq.
	counter := func(kind, key string) (int64, error) {
		switch {
		case !f.AllTenants:
			return sum(sqlCounter, []any{f.Tenant, kind, key})
		case kind == kindTotal:
			return s.logTotal(ctx, q)
		}
		tenants, args := counterTenants(kind, key)
		return sum(`SELECT coalesce(sum(n), 0) FROM (`+tenants+`) tenants`, args)
	}
	refs := func(kind, id, typ string) (int64, error) {
		if f.AllTenants {
			tenants, args := refTenants(kind, id, typ)
			return sum(`SELECT coalesce(sum(n), 0) FROM (`+tenants+`) tenants`, args)
		}
		query, args := sqlRefsOf, []any{f.Tenant, kind, id}
		if typ != "" {
			query, args = query+` AND type = ?`, append(args, typ)
		}
		return sum(query, args)
	}
	var n int64
	var err error
	switch {
	case f.keyed() == 0:
		n, err = counter(kindTotal, "")
	case f.Action != "":
		n, err = counter(kindAction, f.Action)
	case f.Outcome == OutcomeFailure:
		n, err = counter(kindFailure, "")
	case f.Outcome == OutcomeSuccess:
		var all, failed int64
		if all, err = counter(kindTotal, ""); err == nil {
			failed, err = counter(kindFailure, "")
		}
		n = all - failed
	case f.ActorID != "":
		n, err = refs(kindActor, f.ActorID, f.ActorType)
	case f.ResourceID != "":
		n, err = refs(kindResource, f.ResourceID, f.ResourceType)
	case f.Subject != "" && f.SubjectType == "":
		var more int64
		if n, err = refs(kindResource, f.Subject, ""); err == nil {
			more, err = counter(kindTarget, f.Subject)
		}
		n += more
	case f.Subject != "":
		var more int64
		if n, err = refs(kindResource, f.Subject, f.SubjectType); err == nil {
			more, err = refs(kindTarget, f.Subject, f.SubjectType)
		}
		n += more
	default:
		return 0, false, nil
	}
	return n, err == nil, err
}

// Actions returns the distinct actions among the tenants scope selects
// that prefix (lower-cased) matches as Search does (a prefix of the action
// or of any of its dot-separated segments), most frequent first, with
// their counts summed over the tenants; ties in order of the action.
func (s *Store[E]) Actions(ctx context.Context, q Querier, scope Filter, prefix string, limit int) ([]ActionCount, error) {
	if scope.AllTenants {
		query, args := actionsAllTenantsSQL(prefix, limit)
		return s.queryActionCounts(ctx, q, query, args)
	}
	return s.matchActions(ctx, q, scope.Tenant, prefix, limit)
}

// matchActions returns the actions of tenant that term matches (a prefix
// of the action or of any of its dot-separated segments), with their
// counts, most frequent first; limit 0 returns them all.
func (s *Store[E]) matchActions(ctx context.Context, q Querier, tenant, term string, limit int) ([]ActionCount, error) {
	query, args := matchActionsSQL(`a.key, a.n`, tenant, term, limit)
	return s.queryActionCounts(ctx, q, query, args)
}

// matchActionsSQL selects columns (of audit_counts a) of the actions of
// tenant that term matches, most frequent first; limit 0 selects them all.
func matchActionsSQL(columns, tenant, term string, limit int) (string, []any) {
	cond, targs := termRange(term)
	query := `SELECT ` + columns + ` FROM audit_counts_now a WHERE a.tenant = ? AND a.kind = 'action' AND a.key IN (
		SELECT action FROM audit_action_terms WHERE tenant = ? AND ` + cond + `) ORDER BY a.n DESC, a.key`
	args := append([]any{tenant, tenant}, targs...)
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	return query, args
}

// queryActionCounts runs query, which selects actions and their counts.
func (s *Store[E]) queryActionCounts(ctx context.Context, q Querier, query string, args []any) ([]ActionCount, error) {
	rows, err := q.QueryxContext(ctx, s.Dialect.Rebind(query), s.Dialect.Args(args)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ActionCount{}
	for rows.Next() {
		var a ActionCount
		if err := rows.Scan(&a.Action, &a.Count); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
