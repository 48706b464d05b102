package sqlcore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
)

// The derived tables, kept in the write transaction (the counter policy):
//
//   - audit_counts: per tenant, the total (kind "total", key ""), each
//     action ("action": also the catalogue of actions, with
//     audit_action_terms), the failures ("failure", key ""), and per
//     target id the events that name it among their targets but not as
//     their resource ("target");
//   - audit_refs: per tenant, each actor, resource and target (id, type)
//     with its number of events and latest name (kinds "actor",
//     "resource", "target"; a target equal to the event's resource is not
//     counted again), with audit_ref_terms for suggestions;
//   - audit_targets: per tenant, the events of each target (id, type), the
//     same rows as the "target" refs.
//
// Totals follow: an actor's is the sum of its refs over their types, a
// subject's the resource refs' sum plus its "target" counter, a success
// total the tenant's total less its failures.
const (
	kindTotal    = "total"
	kindActor    = "actor"
	kindResource = "resource"
	kindTarget   = "target"
	kindAction   = "action"
	kindFailure  = "failure"
)

// outcomeFailure is the outcome the failure counter and index hold.
const outcomeFailure = "failure"

// CounterKinds are the kinds of audit_counts rows.
var CounterKinds = [...]string{kindTotal, kindAction, kindFailure, kindTarget}

// RefKinds are the kinds of audit_refs rows.
var RefKinds = [...]string{kindActor, kindResource, kindTarget}

// countKey is one counter: a tenant's count of one key of a kind.
type countKey struct{ tenant, kind, key string }

// refKey is one ref of the catalogue.
type refKey struct{ tenant, kind, id, typ string }

// The order of the tables' primary keys: sorted keys keep the b-tree
// walks of a statement short.
func compareCountKeys(a, b countKey) int {
	return cmp.Or(strings.Compare(a.tenant, b.tenant), strings.Compare(a.kind, b.kind), strings.Compare(a.key, b.key))
}

func compareRefKeys(a, b refKey) int {
	return cmp.Or(strings.Compare(a.tenant, b.tenant), strings.Compare(a.kind, b.kind),
		strings.Compare(a.id, b.id), strings.Compare(a.typ, b.typ))
}

// sortedKeys returns the keys of m in the order of compare.
func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	return keys
}

// refCount is what a batch adds to a ref: events, and the latest non-empty
// name.
type refCount struct {
	n    int64
	name string
}

// targetRow is a row of audit_targets.
type targetRow struct {
	tenant, id, typ string
	seq             int64
}

// tally accumulates what events add to the derived tables.
type tally struct {
	counts  map[countKey]int64
	refs    map[refKey]*refCount
	targets []targetRow
	events  int64 // how many events it counted
	// since4 leaves out the counters that existed before schema
	// migration 4 (total, action), for its backfill.
	since4 bool
}

func newTally() *tally {
	return &tally{counts: map[countKey]int64{}, refs: map[refKey]*refCount{}}
}

// add counts the event of row r, in seq order.
func (t *tally) add(r *Row) {
	t.events++
	if !t.since4 {
		t.counts[countKey{r.Tenant, kindTotal, ""}]++
		t.counts[countKey{r.Tenant, kindAction, r.Action}]++
	}
	if r.Outcome == outcomeFailure {
		t.counts[countKey{r.Tenant, kindFailure, ""}]++
	}
	t.ref(refKey{r.Tenant, kindActor, r.ActorID, r.ActorType}, r.ActorName)
	t.ref(refKey{r.Tenant, kindResource, r.ResourceID, r.ResourceType}, r.ResourceName)
	for i, tr := range r.TargetRefs {
		if tr.ID == r.ResourceID && tr.Type == r.ResourceType || seenRef(r.TargetRefs[:i], tr) {
			continue // the resource, or a repeat
		}
		t.ref(refKey{r.Tenant, kindTarget, tr.ID, tr.Type}, tr.Name)
		t.targets = append(t.targets, targetRow{r.Tenant, tr.ID, tr.Type, r.Seq})
		if tr.ID != r.ResourceID && !seenID(r.TargetRefs[:i], tr.ID) {
			t.counts[countKey{r.Tenant, kindTarget, tr.ID}]++
		}
	}
}

func seenRef(refs []Ref, r Ref) bool {
	return slices.ContainsFunc(refs, func(x Ref) bool { return x.ID == r.ID && x.Type == r.Type })
}

func seenID(refs []Ref, id string) bool {
	return slices.ContainsFunc(refs, func(x Ref) bool { return x.ID == id })
}

func (t *tally) ref(k refKey, name string) {
	c := t.refs[k]
	if c == nil {
		c = &refCount{}
		t.refs[k] = c
	}
	c.n++
	if name != "" {
		c.name = name
	}
}

// SQL of the derived tables.
const (
	sqlBumpRefs     = `INSERT INTO audit_refs (tenant, kind, id, type, name, n) VALUES (?, ?, ?, ?, ?, ?)`
	sqlBumpRefsMore = `, (?, ?, ?, ?, ?, ?)`
	sqlBumpRefsTail = ` ON CONFLICT (tenant, kind, id, type) DO UPDATE SET n = audit_refs.n + excluded.n,
		renamed = (excluded.name <> '' AND excluded.name <> audit_refs.name),
		name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE audit_refs.name END
		RETURNING tenant, kind, id, type, name, n, renamed`
	sqlAddRefTerm     = `INSERT INTO audit_ref_terms (tenant, term, kind, id, type) VALUES (?, ?, ?, ?, ?)`
	sqlAddRefTermMore = `, (?, ?, ?, ?, ?)`
	sqlAddRefTermTail = ` ON CONFLICT DO NOTHING`
	sqlAddTargets     = `INSERT INTO audit_targets (tenant, id, type, seq) VALUES (?, ?, ?, ?)`
	sqlAddTargetsMore = `, (?, ?, ?, ?)`
)

// maxRefRows is the most refs (or targets, or terms) one statement carries.
const maxRefRows = 64

// flush writes what t holds to the derived tables, on the statements st.
func (t *tally) flush(ctx context.Context, d Dialect, st *Stmts) error {
	keys := sortedKeys(t.counts, compareCountKeys)
	fresh, err := upsertCounts(ctx, d, st, keys, t.counts)
	if err != nil {
		return err
	}
	if err := addActionTerms(ctx, d, st, fresh); err != nil {
		return err
	}
	named, err := t.upsertRefs(ctx, d, st)
	if err != nil {
		return err
	}
	if err := addRefTerms(ctx, d, st, named); err != nil {
		return err
	}
	return t.insertTargets(ctx, d, st)
}

// upsertCounts adds counts to the counters of keys, every kind in one
// statement (maxCountRows keys each), and returns the actions counted for
// the first time (their counter is what this batch added): the ones whose
// terms the catalogue lacks.
func upsertCounts(ctx context.Context, d Dialect, st *Stmts, keys []countKey, counts map[countKey]int64) ([]countKey, error) {
	var fresh []countKey
	err := inChunks(keys, maxCountRows, func(part []countKey) error {
		x, err := st.multi(ctx, st.countN, len(part), sqlBumpCounts, sqlBumpCountsMore, sqlBumpCountsTail)
		if err != nil {
			return err
		}
		return queryEach(ctx, x, d.Args(counterArgs(part, counts)), func(rows *sqlx.Rows) error {
			var k countKey
			var total int64
			if err := rows.Scan(&k.tenant, &k.kind, &k.key, &total); err != nil {
				return err
			}
			if k.kind == kindAction && total == counts[k] {
				fresh = append(fresh, k)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("update counts: %w", d.Classify(err))
	}
	return fresh, nil
}

// queryEach runs x with args and calls fn for each row.
func queryEach(ctx context.Context, x *sqlx.Stmt, args []any, fn func(*sqlx.Rows) error) error {
	rows, err := x.QueryxContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// inChunks calls fn with items in order, at most most of them a call: a
// multi-row statement's share.
func inChunks[T any](items []T, most int, fn func(part []T) error) error {
	for len(items) > 0 {
		n := min(len(items), most)
		if err := fn(items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

// refArgs are the arguments of the counts of refs keys: tenant, kind, id,
// type, name and n of each.
func refArgs(keys []refKey, refs map[refKey]*refCount) []any {
	args := make([]any, 0, 6*len(keys))
	for _, k := range keys {
		c := refs[k]
		args = append(args, k.tenant, k.kind, k.id, k.typ, c.name, c.n)
	}
	return args
}

func counterArgs(keys []countKey, counts map[countKey]int64) []any {
	args := make([]any, 0, 4*len(keys))
	for _, k := range keys {
		args = append(args, k.tenant, k.kind, k.key, counts[k])
	}
	return args
}

// addActionTerms adds the typeahead terms of new actions to the catalogue.
func addActionTerms(ctx context.Context, d Dialect, st *Stmts, actions []countKey) error {
	for _, k := range actions {
		for seg, term := range ActionTerms(k.key) {
			if _, err := st.addTerm.ExecContext(ctx, d.Args([]any{k.tenant, term, k.key, seg})...); err != nil {
				return fmt.Errorf("update action terms: %w", d.Classify(err))
			}
		}
	}
	return nil
}

// namedRef is a ref whose terms the catalogue may lack: new (its ID and
// name), or renamed (its new name).
type namedRef struct {
	refKey
	name  string
	fresh bool
}

// upsertRefs adds what t counted to audit_refs and returns the refs that
// are new or were renamed.
func (t *tally) upsertRefs(ctx context.Context, d Dialect, st *Stmts) ([]namedRef, error) {
	keys := sortedKeys(t.refs, compareRefKeys)
	var named []namedRef
	err := inChunks(keys, maxRefRows, func(part []refKey) error {
		x, err := st.multi(ctx, st.refN, len(part), sqlBumpRefs, sqlBumpRefsMore, sqlBumpRefsTail)
		if err != nil {
			return err
		}
		return queryEach(ctx, x, d.Args(refArgs(part, t.refs)), func(rows *sqlx.Rows) error {
			var r namedRef
			var total int64
			var renamed bool
			if err := rows.Scan(&r.tenant, &r.kind, &r.id, &r.typ, &r.name, &total, &renamed); err != nil {
				return err
			}
			if c := t.refs[r.refKey]; c != nil && total == c.n {
				r.fresh = true
			}
			if r.fresh || renamed {
				named = append(named, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("update refs: %w", d.Classify(err))
	}
	return named, nil
}

// termKind is the kind of suggestion a ref of kind k gives: targets are
// resources.
func termKind(k string) string {
	if k == kindActor {
		return kindActor
	}
	return kindResource
}

// RefTerms returns the typeahead terms audit_ref_terms holds for a ref: its
// lower-cased name, and its lower-cased ID when that differs from the ID
// (an ID already in lower case is found by a range of audit_refs itself);
// no empty term, none twice.
func RefTerms(id, name string) []string {
	var terms []string
	if l := strings.ToLower(id); l != id {
		terms = append(terms, l)
	}
	if n := nameTerm(id, name); n != "" {
		terms = append(terms, n)
	}
	return terms
}

// nameTerm is the term of a ref's name: lower-cased, "" when empty or
// the same as the ID's.
func nameTerm(id, name string) string {
	if l := strings.ToLower(name); l != strings.ToLower(id) {
		return l
	}
	return ""
}

// addRefTerms adds the terms of new refs (ID and name) and of renamed ones
// (the new name), maxRefRows per statement.
func addRefTerms(ctx context.Context, d Dialect, st *Stmts, refs []namedRef) error {
	var args []any
	rows := 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		x, err := st.multi(ctx, st.refTermN, rows, sqlAddRefTerm, sqlAddRefTermMore, sqlAddRefTermTail)
		if err == nil {
			_, err = x.ExecContext(ctx, d.Args(args)...)
		}
		args, rows = args[:0], 0
		if err != nil {
			return fmt.Errorf("update ref terms: %w", d.Classify(err))
		}
		return nil
	}
	for _, r := range refs {
		terms := RefTerms(r.id, r.name)
		if !r.fresh && len(terms) > 0 && terms[0] != nameTerm(r.id, r.name) {
			terms = terms[1:] // renamed: its ID's term is there already
		}
		for _, term := range terms {
			args = append(args, r.tenant, term, termKind(r.kind), r.id, r.typ)
			if rows++; rows == maxRefRows {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// insertTargets adds t's rows to audit_targets.
func (t *tally) insertTargets(ctx context.Context, d Dialect, st *Stmts) error {
	err := inChunks(t.targets, maxRefRows, func(part []targetRow) error {
		x, err := st.multi(ctx, st.targetN, len(part), sqlAddTargets, sqlAddTargetsMore, "")
		if err != nil {
			return err
		}
		args := make([]any, 0, 4*len(part))
		for _, r := range part {
			args = append(args, r.tenant, r.id, r.typ, r.seq)
		}
		_, err = x.ExecContext(ctx, d.Args(args)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("update targets: %w", d.Classify(err))
	}
	return nil
}

// sqlBackfill reads what the derived tables of migration 4 need from the
// events, a chunk at a time.
const sqlBackfill = `SELECT seq, tenant, action, outcome, actor_type, actor_id, actor_name,
	resource_type, resource_id, resource_name, targets FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?`

// backfillChunk is how many events Backfill counts per flush.
const backfillChunk = 4096

// Backfill fills the tables of schema migration 4 (refs, their terms,
// targets, the failure and target counters) from the events already in
// the log, with the code that keeps them on write, inside the migration's
// transaction (st prepared on it, q reading in it).
func (s *Store[E]) Backfill(ctx context.Context, q Querier, st *Stmts) error {
	return readTallies(0, func(after int64) (*sqlx.Rows, error) {
		return q.QueryxContext(ctx, s.Dialect.Rebind(sqlBackfill), s.Dialect.Args([]any{after, backfillChunk})...)
	}, true, func(t *tally) error {
		return t.flush(ctx, s.Dialect, st)
	})
}
