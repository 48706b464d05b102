package sqlcore

import (
	"cmp"
	"context"
	"slices"
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

// MaxSuggestCandidates bounds the refs a suggestion reads from each of its
// ranges (the name terms, and the IDs of actors, resources and targets):
// the first ones in the order of the terms and IDs, ranked by their
// counts. A short term that starts more refs than that ranks those it
// read; each further character narrows the matches until every one is
// read and the ranking is exact. It keeps every keystroke a few bounded
// range reads at any size of log: at 1M events, 0.5 ms with 50, 0.7 ms
// with 100, 1.2 ms with 300 and 3.5 ms with 1,000 (the median over ten
// terms, BENCHMARKS.md).
const MaxSuggestCandidates = 100

// Suggest returns up to limit suggestions for term (lower-cased; "" gives
// none) among the tenants scope selects: the actions that term matches
// as Search does, and the actors and resources whose ID or name starts
// with it; most frequent first, then actions, actors, resources, then by
// value. Every read is a range of a catalogue, never of the log.
func (s *Store[E]) Suggest(ctx context.Context, q Querier, scope Filter, term string, limit int) ([]Suggestion, error) {
	out := []Suggestion{}
	if term == "" {
		return out, nil
	}
	actions, err := s.Actions(ctx, q, scope, term, limit)
	if err != nil {
		return nil, err
	}
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
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rank := map[string]int{SuggestAction: 0, SuggestActor: 1, SuggestResource: 2}
	slices.SortStableFunc(out, func(a, b Suggestion) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(rank[a.Kind], rank[b.Kind]),
			strings.Compare(a.Value, b.Value), strings.Compare(a.Type, b.Type))
	})
	return out[:min(len(out), limit)], nil
}

// suggestRefsSQL selects the actors and resources whose terms start with
// term: the first MaxSuggestCandidates (kind, id, type) in term order, each
// with its name and count (a resource's count adds the events that name it
// as a target), most frequent first, limit of them. Across tenants, the
// counts are summed over the tenants.
func (s *Store[E]) suggestRefsSQL(scope Filter, term string, limit int) (string, []any) {
	// The candidates: refs whose name (or ID with capitals) has a term
	// starting with term, and refs whose ID itself starts with it, each
	// range cut to MaxSuggestCandidates. Across tenants, every tenant's
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
	var parts []string
	var args []any
	for _, sc := range scopes {
		parts = append(parts, `SELECT * FROM (SELECT kind, id, type FROM audit_ref_terms WHERE `+sc.cond+` AND `+cond+` LIMIT ?) t`)
		args = append(append(append(args, sc.args...), targs...), MaxSuggestCandidates)
		for _, k := range RefKinds {
			parts = append(parts, `SELECT * FROM (SELECT kind, id, type FROM audit_refs WHERE `+sc.cond+
				` AND kind = '`+k+`' AND `+idCond+` LIMIT ?) r`)
			args = append(append(append(args, sc.args...), iargs...), MaxSuggestCandidates)
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
			` + s.Dialect.OrderedJoin(`audit_refs`, `r`, a.tenant+` AND r.kind = `+a.kind+` AND r.id = m.id AND r.type = m.type`)
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
