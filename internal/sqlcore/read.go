package sqlcore

import (
	"context"
	"database/sql"
	"errors"
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

// List returns up to limit events that f matches, newest first, with Seq <
// before when before > 0, skipping offset; and the exact number of events
// f matches, read in tx, the same snapshot.
func (s *Store[E]) List(ctx context.Context, tx ReadTx, f Filter, before int64, offset, limit int) ([]E, int64, error) {
	if f.AllTenants {
		return s.listAllTenants(ctx, tx, f, before, offset, limit)
	}
	var actions []ActionCount
	if f.Search != "" {
		var err error
		if actions, err = s.matchActions(ctx, tx, f.Tenant, f.Search, false, 0); err != nil {
			return nil, 0, err
		}
		if f.Action != "" {
			actions = keepAction(actions, f.Action)
		}
		if len(actions) == 0 {
			return nil, 0, nil
		}
	}
	query, args := s.listSQL(f, actions, before, offset, limit)
	events, err := s.queryEvents(ctx, tx, query, args)
	if err != nil {
		return nil, 0, err
	}
	total, err := s.count(ctx, tx, f, actions)
	if err != nil {
		return nil, 0, err
	}
	return events, total, nil
}

func keepAction(actions []ActionCount, action string) []ActionCount {
	for _, a := range actions {
		if a.Action == action {
			return []ActionCount{a}
		}
	}
	return nil
}

// queryEvents runs query (with ? placeholders) and decodes the events it
// returns.
func (s *Store[E]) queryEvents(ctx context.Context, q Querier, query string, args []any) ([]E, error) {
	rows, err := q.QueryxContext(ctx, s.Dialect.Rebind(query), s.Dialect.Args(args)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []E
	for rows.Next() {
		var r Row
		if err := rows.Scan(r.Dest()...); err != nil {
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

// listSQL builds the query of a page of one tenant: one index range for
// plain filters; for a Search, one range per matching action merged by
// seq, or, past maxUnionActions, a walk of the tenant by seq.
func (s *Store[E]) listSQL(f Filter, actions []ActionCount, before int64, offset, limit int) (query string, args []any) {
	switch {
	case f.Search == "":
		where, wargs := f.where(before)
		query = `SELECT ` + Columns + ` FROM audit_events WHERE ` + where + ` ORDER BY seq DESC LIMIT ? OFFSET ?`
		args = append(wargs, limit, offset)
	case len(actions) <= maxUnionActions:
		// One index range per action, each already in Seq order, merged.
		arms := make([]string, len(actions))
		for i, a := range actions {
			g := f
			g.Action = a.Action
			where, wargs := g.where(before)
			arms[i] = `SELECT * FROM (SELECT ` + Columns + ` FROM audit_events WHERE ` + where + ` ORDER BY seq DESC LIMIT ?) arm`
			args = append(args, wargs...)
			args = append(args, limit+offset)
		}
		query = `SELECT * FROM (` + strings.Join(arms, " UNION ALL ") + `) page ORDER BY seq DESC LIMIT ? OFFSET ?`
		args = append(args, limit, offset)
	default:
		where, wargs := f.where(before)
		cond, targs := termRange(f.Search)
		query = `SELECT ` + Columns + ` FROM audit_events ` + s.Dialect.IndexedBy("audit_events_tenant") + ` WHERE ` + where +
			` AND action IN (SELECT action FROM audit_action_terms WHERE tenant = ? AND ` + cond +
			`) ORDER BY seq DESC LIMIT ? OFFSET ?`
		args = append(append(append(wargs, f.Tenant), targs...), limit, offset)
	}
	return query, args
}

const sqlCounter = `SELECT n FROM audit_counts WHERE tenant = ? AND kind = ? AND key = ?`

// count returns the total of f in one tenant: from a counter for the
// common shapes (see counterFor), by counting over an index otherwise.
func (s *Store[E]) count(ctx context.Context, q Querier, f Filter, actions []ActionCount) (int64, error) {
	if f.Search != "" && !f.timed() && f.ActorID == "" && f.ResourceID == "" && f.ResourceType == "" {
		// The matching actions, already narrowed to f.Action, with counts.
		var n int64
		for _, a := range actions {
			n += a.Count
		}
		return n, nil
	}
	if kind, key, ok := f.counterFor(); ok {
		var n int64
		err := q.QueryRowxContext(ctx, s.Dialect.Rebind(sqlCounter), s.Dialect.Args([]any{f.Tenant, kind, key})...).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return n, err
	}
	where, args := f.where(0)
	if f.Search != "" {
		ph := make([]string, len(actions))
		for i, a := range actions {
			ph[i] = "?"
			args = append(args, a.Action)
		}
		where += " AND action IN (" + strings.Join(ph, ", ") + ")"
	}
	var n int64
	err := q.QueryRowxContext(ctx, s.Dialect.Rebind(`SELECT count(*) FROM audit_events WHERE `+where), s.Dialect.Args(args)...).Scan(&n)
	return n, err
}

// Actions returns the distinct actions among the tenants scope selects
// whose whole name starts with prefix (lower-cased), most frequent first,
// with their counts summed over the tenants; ties in order of the action.
func (s *Store[E]) Actions(ctx context.Context, q Querier, scope Filter, prefix string, limit int) ([]ActionCount, error) {
	if scope.AllTenants {
		query, args := actionsAllTenantsSQL(prefix, limit)
		return s.queryActionCounts(ctx, q, query, args)
	}
	return s.matchActions(ctx, q, scope.Tenant, prefix, true, limit)
}

// matchActions returns the actions of tenant that term matches, with their
// counts, most frequent first; wholeOnly matches the whole action only;
// limit 0 returns them all.
func (s *Store[E]) matchActions(ctx context.Context, q Querier, tenant, term string, wholeOnly bool, limit int) ([]ActionCount, error) {
	cond, targs := termRange(term)
	query := `SELECT a.key, a.n FROM audit_counts a WHERE a.tenant = ? AND a.kind = 'action' AND a.key IN (
		SELECT action FROM audit_action_terms WHERE tenant = ? AND ` + cond
	args := append([]any{tenant, tenant}, targs...)
	if wholeOnly {
		query += ` AND seg = 0`
	}
	query += `) ORDER BY a.n DESC, a.key`
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	return s.queryActionCounts(ctx, q, query, args)
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
