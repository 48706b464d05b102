package sqlcore

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
)

// Suggestion is one entry of a search box's suggestions: an action, an
// actor or a resource (targets count as resources), with the total of the
// events the filter it stands for selects.
type Suggestion struct {
	Kind, Value, Type, Name string
	Count                   int64
}

// Kinds of suggestion.
const (
	SuggestAction   = kindAction
	SuggestActor    = kindActor
	SuggestResource = kindResource
)

// MinSuggestCandidates is the fewest refs a suggestion reads from each of
// its ranges; see SuggestCandidates.
const MinSuggestCandidates = 10

// SuggestCandidates bounds the refs a suggestion of up to limit entries
// reads from each of its ranges (the name terms, and the IDs of actors,
// resources and targets): limit of them, and at least
// MinSuggestCandidates: the first ones in the order of the terms and IDs,
// ranked by their counts. A short term that starts more refs than that
// ranks those it read (at limit 10, the ten first names and the ten first
// IDs of each kind, not the ten most frequent of all); each further
// character narrows the matches until every one is read and the ranking
// is exact. It keeps every keystroke a few short range reads at any size
// of log: each candidate costs about 2 µs to read and rank, so at 1M
// events a keystroke of the default limit 10 takes 0.03 to 0.09 ms (2.3
// to 2.6 times the median of Actions), where a bound of 100 took up to
// 0.5 ms (BENCHMARKS.md).
func SuggestCandidates(limit int) int { return max(limit, MinSuggestCandidates) }

// Suggest returns up to limit suggestions for term (lower-cased; "" gives
// none) among the tenants scope selects: the actions that term matches
// as Search does, and the actors and resources whose ID or name starts
// with it; most frequent first, then actions, actors, resources, then by
// value. Every read is a range of a catalogue, never of the log.
func (s *Store[E]) Suggest(ctx context.Context, q Querier, scope Filter, term string, limit int) ([]Suggestion, error) {
	if term == "" {
		return []Suggestion{}, nil
	}
	var out []Suggestion
	var err error
	if scope.AllTenants {
		out, err = s.suggestAllTenants(ctx, q, scope, term, limit)
	} else {
		out, err = s.suggestTenant(ctx, q, scope.Tenant, term, limit)
	}
	if err != nil {
		return nil, err
	}
	rank := map[string]int{SuggestAction: 0, SuggestActor: 1, SuggestResource: 2}
	slices.SortStableFunc(out, func(a, b Suggestion) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(rank[a.Kind], rank[b.Kind]),
			strings.Compare(a.Value, b.Value), strings.Compare(a.Type, b.Type))
	})
	return out[:min(len(out), limit)], nil
}

// suggestAllTenants returns the actions, actors and resources across
// tenants that term matches (the refs as suggestRefsSQL selects them).
func (s *Store[E]) suggestAllTenants(ctx context.Context, q Querier, scope Filter, term string, limit int) ([]Suggestion, error) {
	actions, err := s.Actions(ctx, q, scope, term, limit)
	if err != nil {
		return nil, err
	}
	out := []Suggestion{}
	for _, a := range actions {
		out = append(out, Suggestion{Kind: SuggestAction, Value: a.Action, Count: a.Count})
	}
	query, args := s.suggestRefsSQL(scope, term, limit)
	rows, err := q.QueryxContext(ctx, s.Dialect.Rebind(query), s.Dialect.Args(args)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var sg Suggestion
		if err := rows.Scan(&sg.Kind, &sg.Value, &sg.Type, &sg.Name, &sg.Count); err != nil {
			return nil, err
		}
		out = append(out, sg)
	}
	return out, rows.Err()
}

// suggestRef names a row of audit_refs within a tenant (kind a ref
// kind), or a suggestion (kind a suggestion kind).
type suggestRef struct{ kind, id, typ string }

// Where a row of suggestTenantSQL comes from.
const (
	fromIDs     = 0 // an ID range of audit_refs
	fromTerms   = 1 // a ref of a name term, read by key
	fromActions = 2 // a matching action (kind, type and name unused)
)

// suggestTenant returns the actions of tenant that term matches and up
// to limit actors and resources of it whose ID or name starts with term,
// most frequent first, from the rows of suggestTenantSQL, merged here.
//
// The candidates are the refs of the name terms read, every actor of the
// ID range read, and the resources of the resource and target ID ranges
// up to where both are complete: a range cut at its bound is complete up
// to the last (id, type) it read, so a resource past that point (whose
// resource or target row the cut range may have left out) is a candidate
// only through a name term, whose rows are read by key. Every candidate's
// count is therefore the whole total of its filter.
func (s *Store[E]) suggestTenant(ctx context.Context, q Querier, tenant, term string, limit int) ([]Suggestion, error) {
	cands := SuggestCandidates(limit)
	query, args := s.suggestTenantSQL(tenant, term, limit, cands)
	rows, err := q.QueryxContext(ctx, s.Dialect.Rebind(query), s.Dialect.Args(args)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type ref struct {
		name string
		n    int64
	}
	out := []Suggestion{}
	refs := map[suggestRef]ref{}
	var picked []suggestRef // candidates (suggestion kinds), maybe repeated
	var ranged []suggestRef // resources of the resource and target ID ranges
	read := map[string]int{}
	last := map[string]suggestRef{}
	for rows.Next() {
		var src int
		var k suggestRef
		var r ref
		if err := rows.Scan(&src, &k.kind, &k.id, &k.typ, &r.name, &r.n); err != nil {
			return nil, err
		}
		if src == fromActions {
			out = append(out, Suggestion{Kind: SuggestAction, Value: k.id, Count: r.n})
			continue
		}
		refs[k] = r
		c := suggestRef{termKind(k.kind), k.id, k.typ}
		if src == fromTerms || k.kind == kindActor {
			picked = append(picked, c)
			continue
		}
		read[k.kind]++
		if l, ok := last[k.kind]; !ok || compareRefs(k, l) > 0 {
			last[k.kind] = k
		}
		ranged = append(ranged, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The point up to which both ID ranges are complete: the lesser last
	// ref of those cut at their bound.
	var bound *suggestRef
	for _, k := range []string{kindResource, kindTarget} {
		if l := last[k]; read[k] >= cands && (bound == nil || compareRefs(l, *bound) < 0) {
			bound = &l
		}
	}
	for _, c := range ranged {
		if bound == nil || compareRefs(c, *bound) <= 0 {
			picked = append(picked, c)
		}
	}
	seen := map[suggestRef]bool{}
	var found []Suggestion
	for _, c := range picked {
		if seen[c] {
			continue
		}
		seen[c] = true
		sg := Suggestion{Kind: c.kind, Value: c.id, Type: c.typ}
		own, ok := refs[c] // a suggestion's kind is its own ref's kind
		sg.Name, sg.Count = own.name, own.n
		if c.kind == kindResource {
			if t, isTarget := refs[suggestRef{kindTarget, c.id, c.typ}]; isTarget {
				if sg.Name == "" {
					sg.Name = t.name
				}
				sg.Count += t.n
				ok = true
			}
		}
		if ok {
			found = append(found, sg)
		}
	}
	slices.SortFunc(found, func(a, b Suggestion) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Kind, b.Kind),
			strings.Compare(a.Value, b.Value), strings.Compare(a.Type, b.Type))
	})
	return append(out, found[:min(len(found), limit)]...), nil
}

// compareRefs orders refs by (id, type), as the ID ranges read them.
func compareRefs(a, b suggestRef) int {
	return cmp.Or(strings.Compare(a.id, b.id), strings.Compare(a.typ, b.typ))
}

// suggestTenantSQL selects, in one statement of range reads streamed to
// suggestTenant (no grouping or sorting in SQL but the few actions'), the
// columns src, kind, id, type, name and n of: the actions of tenant that
// term matches, limit of them, most frequent first (fromActions: id the
// action); the refs of the first cands name terms that start with term,
// each read by key (fromTerms: the ref of the term's kind and, for a
// resource, its target ref); and the first cands refs of each kind whose
// ID starts with term, in (id, type) order (fromIDs).
func (s *Store[E]) suggestTenantSQL(tenant, term string, limit, cands int) (string, []any) {
	// The kinds are read from the columns, never written as literals in a
	// select list: on PostgreSQL a literal in a subquery is TEXT, which a
	// UNION with the BYTEA columns refuses. So an action's type and name
	// repeat its kind.
	actions, args := matchActionsSQL(strconv.Itoa(fromActions)+` AS src, a.kind, a.key, a.kind, a.kind, a.n`, tenant, term, limit)
	parts := []string{`SELECT * FROM (` + actions + `) act`}
	cond, targs := termRange(term)
	idCond, iargs := prefixRange("id", term)
	// The name terms the outer loop, each term's ref of its own kind
	// looked up by key, and a resource's target ref. (One lookup of both,
	// r.kind IN (t.kind, CASE ... END), would need the CASE typed as the
	// column on PostgreSQL.)
	terms := `(SELECT kind, id, type FROM audit_ref_terms WHERE tenant = ? AND ` + cond + ` ORDER BY term, kind, id, type LIMIT ?) t`
	fromTerm := `SELECT ` + strconv.Itoa(fromTerms) + ` AS src, r.kind, r.id, r.type, r.name, r.n FROM ` + terms
	parts = append(parts, fromTerm+`
		`+s.Dialect.OrderedJoin(`audit_refs_now`, `r`, `r.tenant = ? AND r.kind = t.kind AND r.id = t.id AND r.type = t.type`),
		fromTerm+`
		`+s.Dialect.OrderedJoin(`audit_refs_now`, `r`, `r.tenant = ? AND r.kind = '`+kindTarget+`' AND r.id = t.id AND r.type = t.type`)+`
		WHERE t.kind = '`+kindResource+`'`)
	for range 2 {
		args = append(append(append(args, tenant), targs...), cands, tenant)
	}
	for _, k := range RefKinds {
		parts = append(parts, `SELECT * FROM (SELECT `+strconv.Itoa(fromIDs)+` AS src, kind, id, type, name, n FROM audit_refs_now WHERE tenant = ? AND kind = '`+k+
			`' AND `+idCond+` ORDER BY id, type LIMIT ?) `+k)
		args = append(append(append(args, tenant), iargs...), cands)
	}
	return strings.Join(parts, " UNION ALL "), args
}

// suggestRefsSQL selects the actors and resources whose terms start with
// term: the first SuggestCandidates(limit) (kind, id, type) in term order, each
// with its name and count (a resource's count adds the events that name it
// as a target), most frequent first, limit of them. Across tenants, the
// counts are summed over the tenants.
func (s *Store[E]) suggestRefsSQL(scope Filter, term string, limit int) (string, []any) {
	// The candidates: refs whose name (or ID with capitals) has a term
	// starting with term, and refs whose ID itself starts with it, each
	// range cut to SuggestCandidates(limit). Across tenants, every tenant's
	// rows: through the partial indexes, which leave out the default
	// tenant, and the default tenant's by primary key.
	cond, targs := termRange(term)
	idCond, iargs := prefixRange("id", term)
	scopes := []struct {
		cond string
		args []any
	}{{"tenant = ?", []any{scope.Tenant}}}
	if scope.AllTenants {
		scopes = []struct {
			cond string
			args []any
		}{{"tenant <> ''", nil}, {"tenant = ''", nil}}
	}
	bound := SuggestCandidates(limit)
	var parts []string
	var args []any
	for _, sc := range scopes {
		parts = append(parts, `SELECT * FROM (SELECT kind, id, type FROM audit_ref_terms WHERE `+sc.cond+` AND `+cond+` LIMIT ?) t`)
		args = append(append(append(args, sc.args...), targs...), bound)
		for _, k := range RefKinds {
			parts = append(parts, `SELECT * FROM (SELECT kind, id, type FROM audit_refs WHERE `+sc.cond+
				` AND kind = '`+k+`' AND `+idCond+` LIMIT ?) r`)
			args = append(append(append(args, sc.args...), iargs...), bound)
		}
	}
	// Targets are suggested as resources. (The kind is mapped here, on
	// the column, not written as a literal in each arm: on PostgreSQL a
	// literal in a subquery is TEXT, which a UNION with the BYTEA column
	// of the terms refuses.)
	cands := `SELECT DISTINCT CASE WHEN kind = '` + kindTarget + `' THEN '` + kindResource + `' ELSE kind END AS kind, id, type FROM (` +
		strings.Join(parts, " UNION ALL ") + `) c`
	// Each candidate's refs, read by key: its own kind, and for a resource
	// also the target refs of the same (id, type). Across tenants, every
	// tenant's rows: through audit_refs_key, which leaves out the default
	// tenant, and the default tenant's by primary key.
	type arm struct {
		kind, own, tenant string
		args              []any
	}
	arms := []arm{{"m.kind", "1", "r.tenant = ?", []any{scope.Tenant}}, {"'target'", "0", "r.tenant = ?", []any{scope.Tenant}}}
	if scope.AllTenants {
		arms = []arm{{"m.kind", "1", "r.tenant <> ''", nil}, {"m.kind", "1", "r.tenant = ''", nil},
			{"'target'", "0", "r.tenant <> ''", nil}, {"'target'", "0", "r.tenant = ''", nil}}
	}
	parts = make([]string, len(arms))
	for i, a := range arms {
		// The candidates are the outer loop (a few); the planner would
		// otherwise read every target ref of the tenant.
		parts[i] = `SELECT m.kind AS kind, m.id AS id, m.type AS type, r.name AS name, r.n AS n, ` + a.own + ` AS own FROM m
			` + s.Dialect.OrderedJoin(`audit_refs_now`, `r`, a.tenant+` AND r.kind = `+a.kind+` AND r.id = m.id AND r.type = m.type`)
		if a.kind == "'target'" {
			parts[i] += ` WHERE m.kind = 'resource'`
		}
		args = append(args, a.args...)
	}
	query := `WITH m AS (` + cands + `)
		SELECT kind, id, type, coalesce(` + s.Dialect.MaxText(`CASE WHEN own = 1 AND name <> '' THEN name END`) + `, ` +
		s.Dialect.MaxText(`name`) + `), sum(n) AS total FROM (
			` + strings.Join(parts, " UNION ALL ") + `
		) found GROUP BY kind, id, type ORDER BY total DESC, kind, id, type LIMIT ?`
	args = append(args, limit)
	return query, args
}
