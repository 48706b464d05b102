package sqlcore

import (
	"context"
	"math"
	"slices"
	"strings"
)

// Reads across every tenant (the AllTenants view), on the SQLite store.
//
// The per-tenant indexes of audit_events all start with the tenant, so a
// filtered read across tenants is a merge of one index range per tenant.
// The counters say which tenants to merge: the tenants that have an
// action, actor or resource are exactly its counter rows, found through
// audit_counts_key (which leaves out the default tenant '', whose row is
// one more seek, so that an application without tenants never writes it);
// the (tenant, action) pairs that a typeahead term matches are rows of
// audit_action_terms, found through audit_action_terms_term. The total of
// one key is the sum of its counter rows; the total of the whole log is its
// head's seq (see logTotal), which costs the write path nothing.

// A page across tenants takes the cheapest of three ways, in rows read as
// the counters foretell them (see listAllTenants). maxTenantArms bounds
// the arms one statement merges; armCost is what one arm costs, in rows
// read, to prepare, run and sort (BenchmarkAllTenants: about 30 µs, where
// a row read while walking costs about 0.6 µs).
const (
	maxTenantArms = 64
	armCost       = 50
)

// arm is one index range of a read across tenants: the events of tenant
// (with action, for a search) under the filter's key, n of them.
type arm struct {
	tenant, action string
	n              int64
}

const sqlLogTotal = `SELECT coalesce(max(seq), 0) FROM audit_events`

// keyTenants selects the tenants that have the key k and its count in
// each: an action's (or a target id's) counter rows, or an actor's,
// resource's or target's refs (summed over their types, unless k names
// one).
func keyTenants(k filterKey) (string, []any) {
	if k.kind == kindAction || k.kind == kindTarget && k.typ == "" {
		return counterTenants(k.kind, k.key)
	}
	return refTenants(k.kind, k.key, k.typ)
}

// counterTenants selects the tenants that have a counter of kind and key,
// and its count. The default tenant's row is read by primary key, the
// others through audit_counts_key, which leaves it out.
func counterTenants(kind, key string) (string, []any) {
	return `SELECT tenant, n FROM audit_counts_now WHERE kind = ? AND key = ? AND tenant <> ''
		UNION ALL SELECT tenant, n FROM audit_counts_now WHERE tenant = '' AND kind = ? AND key = ?`, []any{kind, key, kind, key}
}

// refTenants selects the tenants that have a ref of kind, id (and typ,
// unless empty), and its count (over its types). The default tenant's rows
// are read by primary key, the others through audit_refs_key.
func refTenants(kind, id, typ string) (string, []any) {
	cond, args := `kind = ? AND id = ?`, []any{kind, id}
	if typ != "" {
		cond, args = cond+` AND type = ?`, append(args, typ)
	}
	return `SELECT tenant, sum(n) AS n FROM audit_refs_now WHERE ` + cond + ` AND tenant <> '' GROUP BY tenant
		UNION ALL SELECT tenant, sum(n) AS n FROM audit_refs_now WHERE tenant = '' AND ` + cond + ` GROUP BY tenant`, append(args, args...)
}

// listAllTenants is List across every tenant: the total first (from the
// counters for the common shapes), then the page from the arms, or by
// reading the matches through their indexes, or by walking the log.
//
// Without withTotal (a walk of everything, see Range), a total that the
// counters do not hold is not counted: the page takes the merge of the
// arms when there are few, the read through the lead key's index otherwise.
func (s *Store[E]) listAllTenants(ctx context.Context, tx ReadTx, f Filter, before int64, offset, limit int, withTotal bool) ([]E, int64, error) {
	if f.Subject != "" || f.Outcome != "" && f.keyed() == 1 {
		return s.listAllTenantsBy(ctx, tx, f, before, offset, limit, withTotal)
	}
	keys := f.keys()
	var arms []arm
	var under int64 // the events in the index ranges allTenantsSQL reads
	var err error
	switch {
	case f.Search != "":
		arms, under, err = s.searchArms(ctx, tx, f)
	case len(keys) > 0:
		arms, keys, under, err = s.keyArms(ctx, tx, keys) // keys[0] has the fewest events: its index is read
	}
	if err != nil {
		return nil, 0, err
	}
	keyed := f.Search != "" || len(keys) > 0
	if keyed && len(arms) == 0 {
		return nil, 0, nil
	}

	// The total: the head's seq for the whole log, the sum of the arms'
	// counters for one key or a search term (with its action) alone;
	// otherwise a count over the lead key's indexes, or a scan for a time
	// range or resource type alone (see allTenantsSQL).
	var total int64
	counted := !f.narrowed() && f.Outcome == "" &&
		(f.Search == "" && len(keys) <= 1 || f.Search != "" && (len(keys) == 0 || len(keys) == 1 && f.Action != ""))
	switch {
	case counted && !keyed:
		if total, err = s.logTotal(ctx, tx); err != nil {
			return nil, 0, err
		}
	case counted:
		for _, a := range arms {
			total += a.n
		}
	case !withTotal:
		total = -1 // not counted
	default:
		query, args := s.allTenantsSQL(`count(*)`, f, keys, 0)
		if err := tx.QueryRowxContext(ctx, s.Dialect.Rebind(query), s.Dialect.Args(args)...).Scan(&total); err != nil {
			return nil, 0, err
		}
	}
	if total == 0 {
		return nil, 0, nil
	}

	// The page, the cheapest way in rows read: walking the log by seq
	// reads about (offset+limit) * N / total rows (the matches spread
	// evenly); reading the matches through the indexes of the lead key
	// reads the entries under it and sorts them; merging the arms one by
	// one reads up to offset+limit entries of each, at armCost per arm.
	want := int64(offset + limit)
	var query string
	var args []any
	if !keyed {
		query, args = walkSQL(f, before, offset, limit)
	} else {
		all, err := s.logTotal(ctx, tx)
		if err != nil {
			return nil, 0, err
		}
		walk := float64(want) * float64(all) / float64(total)
		if total < 0 {
			walk = math.Inf(1) // unknown: the indexes, not a walk of the log
		}
		merge := math.Inf(1)
		if len(arms) <= maxTenantArms {
			merge = float64(len(arms) * armCost)
			for _, a := range arms {
				merge += float64(min(a.n, want))
			}
		}
		switch {
		case merge <= walk && merge <= float64(under):
			query, args = armsSQL(f, arms, before, offset, limit)
		case walk <= float64(under):
			query, args = walkSQL(f, before, offset, limit)
		default:
			inner, iargs := s.allTenantsSQL(`seq`, f, keys, before)
			query = `SELECT ` + Columns + ` FROM audit_events WHERE seq IN (` + inner +
				` ORDER BY seq ` + f.dir() + ` LIMIT ? OFFSET ?) ORDER BY seq ` + f.dir()
			args = append(iargs, limit, offset)
		}
	}
	events, err := s.queryEvents(ctx, tx, query, args, limit)
	if err != nil {
		return nil, 0, err
	}
	return events, total, nil
}

// logTotal returns the number of events in the log, every tenant: the seq
// of its head, as seqs are gapless from 1 (the insert trigger refuses any
// other). Whatever removes events one day (retention) must keep this true,
// or count what it removed.
func (s *Store[E]) logTotal(ctx context.Context, q Querier) (int64, error) {
	var n int64
	err := q.QueryRowxContext(ctx, sqlLogTotal).Scan(&n)
	return n, err
}

// keyArms returns one arm per tenant that has every key (with the smallest
// of its counts), keys with the key of the fewest events first, and how
// many events that key has.
func (s *Store[E]) keyArms(ctx context.Context, q Querier, keys []filterKey) ([]arm, []filterKey, int64, error) {
	var arms []arm
	var lead int64 = math.MaxInt64
	for i, k := range keys {
		query, args := keyTenants(k)
		rows, err := q.QueryxContext(ctx, s.Dialect.Rebind(query), s.Dialect.Args(args)...)
		if err != nil {
			return nil, nil, 0, err
		}
		have := make(map[string]int64)
		var sum int64
		for rows.Next() {
			var tenant string
			var n int64
			if err := rows.Scan(&tenant, &n); err != nil {
				rows.Close()
				return nil, nil, 0, err
			}
			have[tenant] = n
			sum += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, 0, err
		}
		if sum < lead {
			lead = sum
			keys[0], keys[i] = keys[i], keys[0]
		}
		if i == 0 {
			for tenant, n := range have {
				arms = append(arms, arm{tenant: tenant, n: n})
			}
			continue
		}
		arms = slices.DeleteFunc(arms, func(a arm) bool { _, ok := have[a.tenant]; return !ok })
		for j := range arms {
			arms[j].n = min(arms[j].n, have[arms[j].tenant])
		}
		if len(arms) == 0 {
			break // no tenant has them all
		}
	}
	return arms, keys, lead, nil
}

// searchArms returns one arm per (tenant, action) pair that f.Search
// matches, narrowed to f.Action and to the tenants that have f's other
// keys, and how many events the matched actions have in every tenant.
func (s *Store[E]) searchArms(ctx context.Context, q Querier, f Filter) ([]arm, int64, error) {
	query, args := s.searchArmsSQL(f.Search)
	rows, err := q.QueryxContext(ctx, s.Dialect.Rebind(query), s.Dialect.Args(args)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var arms []arm
	var under int64
	for rows.Next() {
		var a arm
		if err := rows.Scan(&a.tenant, &a.action, &a.n); err != nil {
			return nil, 0, err
		}
		if f.Action == "" || a.action == f.Action {
			arms = append(arms, a)
			under += a.n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	g := f
	g.Action = ""
	if others := g.keys(); len(others) > 0 && len(arms) > 0 {
		tenants, _, _, err := s.keyArms(ctx, q, others)
		if err != nil {
			return nil, 0, err
		}
		have := make(map[string]bool, len(tenants))
		for _, a := range tenants {
			have[a.tenant] = true
		}
		arms = slices.DeleteFunc(arms, func(a arm) bool { return !have[a.tenant] })
	}
	return arms, under, nil
}

// searchArmsSQL selects the (tenant, action) pairs that term matches, with
// their counters. The join keeps the pairs as the outer loop (SQLite's
// CROSS JOIN, see Dialect.OrderedJoin): the planner would otherwise read
// every action counter of the log.
func (s *Store[E]) searchArmsSQL(term string) (string, []any) {
	cond, args := termRange(term)
	return `SELECT c.tenant, c.key, c.n FROM (SELECT DISTINCT tenant, action FROM audit_action_terms WHERE ` + cond + `) t
		` + s.Dialect.OrderedJoin(`audit_counts_now`, `c`, `c.tenant = t.tenant AND c.kind = 'action' AND c.key = t.action`), args
}

// allTenantsSQL selects what (count(*) or seq) of the events f matches in
// every tenant, through the index of f's leading key (keys[0]), or of the
// actions for a search, one range per tenant that has it. With before > 0,
// only events with Seq < before.
//
// Without a key (Since, Until, ResourceType alone), every event of the log
// is a candidate and no index narrows them: it scans the log, which
// measured 3.7 times faster than walking every tenant's index and looking
// each row up (BenchmarkAllTenants/all/Recent/since).
func (s *Store[E]) allTenantsSQL(what string, f Filter, keys []filterKey, before int64) (string, []any) {
	where, wargs := f.where("", before)
	var index, scope string
	var args []any
	switch {
	case f.Search != "":
		cond, targs := termRange(f.Search)
		index = "audit_events_action"
		scope = `tenant IN (SELECT tenant FROM audit_action_terms WHERE ` + cond + `)
			AND action IN (SELECT action FROM audit_action_terms WHERE ` + cond + `)`
		args = append(append(args, targs...), targs...)
	case len(keys) > 0:
		index = keys[0].index
		tenants, targs := keyTenants(keys[0])
		scope = `tenant IN (SELECT tenant FROM (` + tenants + `) tenants)`
		args = append(args, targs...)
	default:
		return `SELECT ` + what + ` FROM audit_events WHERE ` + where, wargs
	}
	query := `SELECT ` + what + ` FROM audit_events ` + s.Dialect.IndexedBy(index) + ` WHERE ` + scope + ` AND ` + where
	return query, append(args, wargs...)
}

// walkSQL walks the log by seq, in f's order, keeping what f matches.
func walkSQL(f Filter, before int64, offset, limit int) (string, []any) {
	if before <= 0 && !f.OldestFirst {
		before = math.MaxInt64 // a range of the primary key, like a cursor's
	}
	where, args := f.where("", before)
	if f.Search != "" {
		cond, targs := termRange(f.Search)
		where += ` AND action IN (SELECT action FROM audit_action_terms WHERE ` + cond + `)`
		args = append(args, targs...)
	}
	return `SELECT ` + Columns + ` FROM audit_events WHERE ` + where + ` ORDER BY seq ` + f.dir() + ` LIMIT ? OFFSET ?`,
		append(args, limit, offset)
}

// armsSQL merges one index range per arm, each newest first, taking the
// seqs of the page from the indexes and then only the page's rows.
func armsSQL(f Filter, arms []arm, before int64, offset, limit int) (string, []any) {
	parts := make([]string, len(arms))
	var args []any
	for i, a := range arms {
		g := f
		g.AllTenants, g.Tenant, g.Search = false, a.tenant, ""
		if a.action != "" {
			g.Action = a.action
		}
		where, wargs := g.where("", before)
		parts[i] = `SELECT seq FROM (SELECT seq FROM audit_events WHERE ` + where + ` ORDER BY seq ` + f.dir() + ` LIMIT ?) arm`
		args = append(append(args, wargs...), offset+limit)
	}
	query := `SELECT ` + Columns + ` FROM audit_events WHERE seq IN (SELECT seq FROM (` +
		strings.Join(parts, " UNION ALL ") + `) arms ORDER BY seq ` + f.dir() + ` LIMIT ? OFFSET ?) ORDER BY seq ` + f.dir()
	return query, append(args, limit, offset)
}

// actionsAllTenantsSQL selects the actions that prefix matches in any
// tenant, as Search does, with the sum of their counters, most frequent
// first.
func actionsAllTenantsSQL(prefix string, limit int) (string, []any) {
	cond, targs := termRange(prefix)
	actions := `key IN (SELECT action FROM audit_action_terms WHERE ` + cond + `)`
	args := append(append(slices.Clone(targs), targs...), limit)
	return `SELECT key, sum(n) AS total FROM (
		SELECT key, n FROM audit_counts_now WHERE kind = 'action' AND tenant <> '' AND ` + actions + `
		UNION ALL SELECT key, n FROM audit_counts_now WHERE tenant = '' AND kind = 'action' AND ` + actions + `) counts
		GROUP BY key ORDER BY total DESC, key LIMIT ?`, args
}

// listAllTenantsBy is List across every tenant for a subject, or for an
// outcome alone: the total from the counters when they answer it (summed
// over the tenants), else counted over the same indexes as the page; the
// page from the subject's resource and target ranges in the tenants that
// have them, from the failures' index, or by walking the log.
func (s *Store[E]) listAllTenantsBy(ctx context.Context, tx ReadTx, f Filter, cursor int64, offset, limit int, withTotal bool) ([]E, int64, error) {
	total, ok, err := s.counted(ctx, tx, f)
	if err != nil {
		return nil, 0, err
	}
	if !ok && !withTotal {
		total, ok = -1, true // not counted
	}
	var extra string
	var eargs []any
	if f.Search != "" {
		cond, targs := termRange(f.Search)
		extra, eargs = `action IN (SELECT action FROM audit_action_terms WHERE `+cond+`)`, targs
	}
	if !ok {
		query, args := s.allTenantsBySQL(`count(*)`, f, extra, eargs, 0, 0)
		if err := tx.QueryRowxContext(ctx, s.Dialect.Rebind(query), s.Dialect.Args(args)...).Scan(&total); err != nil {
			return nil, 0, err
		}
	}
	if total == 0 {
		return nil, 0, nil
	}
	query, args := s.allTenantsBySQL(Columns, f, extra, eargs, cursor, limit+offset)
	events, err := s.queryEvents(ctx, tx, query+` LIMIT ? OFFSET ?`, append(args, limit, offset), limit)
	if err != nil {
		return nil, 0, err
	}
	return events, total, nil
}

// allTenantsBySQL selects what (count(*), or the columns in f's order) of
// the events across tenants about f.Subject, or of f.Outcome, that f (and
// extra) matches, after cursor; lim > 0 cuts each range to its first lim.
func (s *Store[E]) allTenantsBySQL(what string, f Filter, extra string, eargs []any, cursor int64, lim int) (string, []any) {
	order := ` ORDER BY seq ` + f.dir()
	if what == `count(*)` {
		order = ""
	}
	if f.Subject == "" {
		where, args := f.where("", cursor)
		if extra != "" {
			where, args = where+` AND `+extra, append(args, eargs...)
		}
		index := ""
		if f.Outcome == OutcomeFailure {
			index = s.Dialect.IndexedBy("audit_events_failures_all")
		} else if cursor <= 0 && !f.OldestFirst && what != `count(*)` {
			where, args = where+` AND seq < ?`, append(args, int64(math.MaxInt64)) // a range of the primary key
		}
		return `SELECT ` + what + ` FROM audit_events ` + index + ` WHERE ` + where + order, args
	}
	inner, args := s.subjectSQL(f, extra, eargs, cursor, lim)
	if what == `count(*)` {
		return `SELECT count(*) FROM (` + inner + `) subject`, args
	}
	return `SELECT ` + what + ` FROM audit_events WHERE seq IN (SELECT seq FROM (` + inner + `) subject)` + order, args
}
