package sqlcore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
)

// The recounts of CheckDerived. Each lists the rows a derived table must
// hold, from the events, in the order of the table's primary key; the
// table's rows are read in that order too, and the two are walked side by
// side. The counters of the tenant's total, actions and failures group an
// index in its own order (no sort). The actor and resource refs are
// counted per (tenant, id) from the indexes on (tenant, actor_id) and
// (tenant, resource_id) alone, in their order (no sort, no read of the
// events' rows), against the sum over the types of each id in audit_refs;
// the types are then checked by one pass over the events that looks up
// the (id, type) of each event's actor and resource in audit_refs by
// primary key, and the ids with more than one type in audit_refs are
// recounted per type. Together that is exact: an id with one type whose
// events all have that type and whose count agrees has its one row
// right, and the others are recounted. (Grouping the events by id and
// type made the database sort them all, most of the cost of a check.) The
// targets are rebuilt once from the events' JSON and compared with
// audit_targets; the target counters are then counted from audit_targets,
// in the same snapshot, which is as good as from the events once the two
// are known to agree, and much cheaper than a second and third pass over
// the JSON.

// recount is one check: what the events say (events), what the table
// holds (table, with one ? for the kind), and what the rows are.
type recount struct {
	kind, table string
	events      string
	args        []any // for the ? of events, and of table after the kind
	perID       bool  // table sums audit_refs over the types of each id
}

const (
	sqlCountsOfKind = `SELECT tenant, key, '', n FROM audit_counts WHERE kind = ? ORDER BY tenant, key`
	sqlRefsOfKind   = `SELECT tenant, id, type, n FROM audit_refs WHERE kind = ? ORDER BY tenant, id, type`
)

// A DerivedCheck is one part of CheckDerived: it reads in tx (one
// snapshot) and returns "" when its tables agree with the log, or what
// disagrees first. The parts are independent of each other: each may run
// in a read transaction of its own, at the same time as the others.
type DerivedCheck func(ctx context.Context, tx ReadTx) (problem string, err error)

// DerivedChecks are the parts of CheckDerived, the costly ones first (the
// types of the refs and the targets, which read every event; then the
// terms of the refs, which cost as much whatever the size of the log, and
// as much as those two on a small one), so that a caller running them
// side by side starts those first.
func (s *Store[E]) DerivedChecks() []DerivedCheck {
	return []DerivedCheck{
		s.checkRefTypes,
		s.checkTargets,
		s.checkRefTerms,
		s.refsCheck(kindActor, "actor"),
		s.refsCheck(kindResource, "resource"),
		s.checkCounters,
	}
}

// CheckDerived checks every derived table against the events, in tx (one
// snapshot): it recounts audit_counts and audit_refs, rebuilds
// audit_targets, and checks the typeahead terms of every action and ref,
// streaming both sides in the same order. It returns "" when they agree,
// or what disagrees first. (The names of refs are shown, not counted: they
// are not checked.)
func (s *Store[E]) CheckDerived(ctx context.Context, tx ReadTx) (string, error) {
	for _, check := range s.DerivedChecks() {
		if problem, err := check(ctx, tx); problem != "" || err != nil {
			return problem, err
		}
	}
	return "", nil
}

// refsCheck recounts the refs of kind (the events' column+"_id" and
// column+"_type") per (tenant, id), from the index on (tenant,
// column+"_id"), against the sum of each id's rows in audit_refs; then
// recounts per type the ids that have more than one type in audit_refs.
// checkRefTypes checks that the type of every event's ref is in
// audit_refs: with it, an id with one type is then known exact too.
func (s *Store[E]) refsCheck(kind, column string) DerivedCheck {
	id, typ := column+"_id", column+"_type"
	perID := recount{kind, `SELECT tenant, id, '', CAST(sum(n) AS BIGINT) FROM audit_refs WHERE kind = ? GROUP BY tenant, id ORDER BY tenant, id`,
		`SELECT tenant, ` + id + `, '', count(*) FROM audit_events ` + s.Dialect.IndexedBy("audit_events_"+column) +
			` GROUP BY tenant, ` + id + ` ORDER BY tenant, ` + id, nil, true}
	multi := `(SELECT tenant, id FROM audit_refs WHERE kind = '` + kind + `' GROUP BY tenant, id HAVING count(*) > 1)`
	perType := recount{kind, sqlRefsOfKind[:strings.Index(sqlRefsOfKind, " ORDER BY")] + ` AND (tenant, id) IN ` + multi + ` ORDER BY tenant, id, type`,
		`SELECT e.tenant, e.` + id + `, e.` + typ + `, count(*) FROM ` + multi + ` m ` +
			s.Dialect.OrderedJoin("audit_events", "e", "e.tenant = m.tenant AND e."+id+" = m.id") +
			` GROUP BY e.tenant, e.` + id + `, e.` + typ + ` ORDER BY e.tenant, e.` + id + `, e.` + typ, nil, false}
	return func(ctx context.Context, tx ReadTx) (string, error) {
		diff, found, err := s.firstDiff(ctx, tx, perID)
		if found || err != nil {
			return s.checkRef(ctx, tx, kind, column, diff.tenant, diff.key, err)
		}
		return s.merge(ctx, tx, perType)
	}
}

// checkRef recounts the refs of kind of one (tenant, id), per type, and
// reports what disagrees first (it is called on an id known to disagree).
func (s *Store[E]) checkRef(ctx context.Context, tx ReadTx, kind, column, tenant, id string, err error) (string, error) {
	if err != nil {
		return "", err
	}
	idCol, typ := column+"_id", column+"_type"
	problem, err := s.merge(ctx, tx, recount{kind, `SELECT tenant, id, type, n FROM audit_refs WHERE kind = ? AND tenant = ? AND id = ? ORDER BY type`,
		`SELECT tenant, ` + idCol + `, ` + typ + `, count(*) FROM audit_events WHERE tenant = ? AND ` + idCol + ` = ?
			GROUP BY tenant, ` + idCol + `, ` + typ + ` ORDER BY ` + typ, []any{tenant, id}, false})
	if problem == "" && err == nil {
		problem = fmt.Sprintf("audit_refs disagrees with the log on the events of %s %q in tenant %q", kind, id, tenant)
	}
	return problem, err
}

// refTypeMissingSQL finds the first event whose actor or resource (id,
// type) has no row in audit_refs: each looked up among the refs of its
// kind (Dialect.NotIn; on SQLite in a temporary index of them, read once,
// which took two thirds of the time of a probe of audit_refs' primary key
// for each).
func (s *Store[E]) refTypeMissingSQL() string {
	refs := func(kind, alias string) string {
		return s.Dialect.NotIn([]string{"e.tenant", "e." + alias + "_id", "e." + alias + "_type"}, []string{"tenant", "id", "type"},
			`SELECT tenant, id, type FROM audit_refs WHERE kind = '`+kind+`'`)
	}
	return `SELECT e.tenant, e.actor_id, e.resource_id,
	NOT EXISTS (SELECT 1 FROM audit_refs r WHERE r.tenant = e.tenant AND r.kind = '` + kindActor + `' AND r.id = e.actor_id AND r.type = e.actor_type)
	FROM audit_events e
	WHERE ` + refs(kindActor, "actor") + ` OR ` + refs(kindResource, "resource") + `
	LIMIT 1`
}

// checkRefTypes checks, in one pass over the events, that the (id, type)
// of every event's actor and resource has a row in audit_refs, and
// reports the first that lacks one as its id's recount does.
func (s *Store[E]) checkRefTypes(ctx context.Context, tx ReadTx) (string, error) {
	var tenant, actor, resource string
	var actorMissing bool
	err := tx.QueryRowxContext(ctx, s.refTypeMissingSQL()).Scan(&tenant, &actor, &resource, &actorMissing)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", err
	case actorMissing:
		return s.checkRef(ctx, tx, kindActor, "actor", tenant, actor, nil)
	default:
		return s.checkRef(ctx, tx, kindResource, "resource", tenant, resource, nil)
	}
}

// checkCounters checks the kinds of both tables, recounts the tenant's
// total, each action and the failures, and checks the action terms
// against the action counters just checked.
func (s *Store[E]) checkCounters(ctx context.Context, tx ReadTx) (string, error) {
	for _, k := range []struct {
		query string
		known []string
		table string
	}{{sqlCounterKinds, CounterKinds[:], "audit_counts"}, {sqlRefKinds, RefKinds[:], "audit_refs"}} {
		var kinds []string
		if err := tx.SelectContext(ctx, &kinds, k.query); err != nil {
			return "", err
		}
		for _, kind := range kinds {
			if !slices.Contains(k.known, kind) {
				return fmt.Sprintf("%s has rows of unknown kind %q", k.table, kind), nil
			}
		}
	}
	for _, r := range []recount{
		{kindTotal, sqlCountsOfKind, `SELECT tenant, '', '', count(*) FROM audit_events ` + s.Dialect.IndexedBy("audit_events_tenant") +
			` GROUP BY tenant ORDER BY tenant`, nil, false},
		{kindAction, sqlCountsOfKind, `SELECT tenant, action, '', count(*) FROM audit_events ` + s.Dialect.IndexedBy("audit_events_action") +
			` GROUP BY tenant, action ORDER BY tenant, action`, nil, false},
		{kindFailure, sqlCountsOfKind, `SELECT tenant, '', '', count(*) FROM audit_events ` + s.Dialect.IndexedBy("audit_events_failures") +
			` WHERE outcome = '` + OutcomeFailure + `' GROUP BY tenant ORDER BY tenant`, nil, false},
	} {
		if problem, err := s.merge(ctx, tx, r); problem != "" || err != nil {
			return problem, err
		}
	}
	return s.checkTerms(ctx, tx)
}

// expectedTargets selects the rows audit_targets must hold, from the
// dialect's expansion of every event's targets: each distinct target
// (id, type) of an event but its resource.
func expectedTargets(targets string) string {
	return `SELECT DISTINCT tenant, id, type, seq FROM (` + targets + `) t WHERE NOT (id = resource_id AND type = resource_type)`
}

const (
	sqlCounterKinds = `SELECT DISTINCT kind FROM audit_counts`
	sqlRefKinds     = `SELECT DISTINCT kind FROM audit_refs`
	sqlAllTerms     = `SELECT tenant, action, term, seg FROM audit_action_terms ORDER BY tenant, action, seg`
)

// counterRow is a row of either side of a recount.
type counterRow struct {
	tenant, key, typ string
	n                int64
}

// rowStream reads counterRows one at a time, each adjusted (when adjust
// is set).
type rowStream struct {
	rows   *sqlx.Rows
	cur    counterRow
	ok     bool
	adjust func(*counterRow)
}

func (r *rowStream) next() error {
	r.ok = r.rows.Next()
	if !r.ok {
		return r.rows.Err()
	}
	if err := r.rows.Scan(&r.cur.tenant, &r.cur.key, &r.cur.typ, &r.cur.n); err != nil {
		return err
	}
	if r.adjust != nil {
		r.adjust(&r.cur)
	}
	return nil
}

// pending tallies the events after audit_fold's seq, which the counts of
// a store that folds them in (Store.Fold) do not hold yet; nil on a store
// that keeps its counts in every commit.
func (s *Store[E]) pending(ctx context.Context, tx ReadTx) (*tally, error) {
	if !s.Fold {
		return nil, nil
	}
	var fold int64
	if err := tx.QueryRowxContext(ctx, sqlFoldSeq).Scan(&fold); err != nil {
		return nil, err
	}
	t := newTally()
	err := readTallies(fold, func(after int64) (*sqlx.Rows, error) {
		return tx.QueryxContext(ctx, s.Dialect.Rebind(sqlFoldRead), s.Dialect.Args([]any{after, int64(math.MaxInt64), backfillChunk})...)
	}, false, func(u *tally) error {
		t.merge(u)
		return nil
	})
	return t, err
}

// onRefs reports whether r's table side reads audit_refs (else
// audit_counts).
func (r recount) onRefs() bool { return strings.Contains(r.table, "audit_refs") }

// adjuster returns what adds to each table row of r the events p counts
// (the events after the fold): the table then holds what reads see.
func (r recount) adjuster(p *tally) func(*counterRow) {
	if p == nil {
		return nil
	}
	switch {
	case !r.onRefs():
		return func(c *counterRow) { c.n += p.counts[countKey{c.tenant, r.kind, c.key}] }
	case r.perID:
		sums := map[[2]string]int64{}
		for k, rc := range p.refs {
			if k.kind == r.kind {
				sums[[2]string{k.tenant, k.id}] += rc.n
			}
		}
		return func(c *counterRow) { c.n += sums[[2]string{c.tenant, c.key}] }
	default:
		return func(c *counterRow) {
			if rc := p.refs[refKey{c.tenant, r.kind, c.key, c.typ}]; rc != nil {
				c.n += rc.n
			}
		}
	}
}

// merge walks a recount and its table side by side and reports the first
// row on which they differ.
func (s *Store[E]) merge(ctx context.Context, tx ReadTx, r recount) (string, error) {
	table := "audit_counts"
	if r.onRefs() {
		table = "audit_refs"
	}
	name := func(c counterRow) string {
		if c.typ != "" {
			return fmt.Sprintf("%s %q of type %q in tenant %q", r.kind, c.key, c.typ, c.tenant)
		}
		return fmt.Sprintf("%s %q in tenant %q", r.kind, c.key, c.tenant)
	}
	var problem string
	err := s.walk(ctx, tx, r, func(c int, ev, tb counterRow) {
		switch {
		case c < 0:
			problem = fmt.Sprintf("%s has no row for %s, which has %d events", table, name(ev), ev.n)
		case c > 0:
			problem = fmt.Sprintf("%s counts %d events of %s, which has none", table, tb.n, name(tb))
		default:
			problem = fmt.Sprintf("%s counts %d events of %s, the log has %d", table, tb.n, name(tb), ev.n)
		}
	})
	return problem, err
}

// firstDiff walks a recount and its table side by side and returns the
// first row of either on which they differ (found), with its streams
// closed.
func (s *Store[E]) firstDiff(ctx context.Context, tx ReadTx, r recount) (diff counterRow, found bool, err error) {
	err = s.walk(ctx, tx, r, func(c int, ev, tb counterRow) {
		diff, found = ev, true
		if c > 0 {
			diff = tb
		}
	})
	return diff, found, err
}

// walk walks a recount and its table side by side until the first row on
// which they differ, and calls differ with it: c < 0 when the table lacks
// the events' row ev, c > 0 when the events lack the table's row tb, 0
// when both have the row with different counts.
func (s *Store[E]) walk(ctx context.Context, tx ReadTx, r recount, differ func(c int, ev, tb counterRow)) error {
	evRows, err := tx.QueryxContext(ctx, s.Dialect.Rebind(r.events), s.Dialect.Args(r.args)...)
	if err != nil {
		return err
	}
	defer evRows.Close()
	tRows, err := tx.QueryxContext(ctx, s.Dialect.Rebind(r.table), s.Dialect.Args(append([]any{r.kind}, r.args...))...)
	if err != nil {
		return err
	}
	defer tRows.Close()
	p, err := s.pending(ctx, tx)
	if err != nil {
		return err
	}
	ev, tb := &rowStream{rows: evRows}, &rowStream{rows: tRows, adjust: r.adjuster(p)}
	if err := errors.Join(ev.next(), tb.next()); err != nil {
		return err
	}
	for ev.ok || tb.ok {
		c := 0
		switch {
		case !tb.ok:
			c = -1
		case !ev.ok:
			c = 1
		default:
			c = cmp.Or(strings.Compare(ev.cur.tenant, tb.cur.tenant), strings.Compare(ev.cur.key, tb.cur.key), strings.Compare(ev.cur.typ, tb.cur.typ))
		}
		if c != 0 || ev.cur.n != tb.cur.n {
			differ(c, ev.cur, tb.cur)
			return nil
		}
		if err := errors.Join(ev.next(), tb.next()); err != nil {
			return err
		}
	}
	return nil
}

// checkTargets compares audit_targets with the targets of the events, both
// ways in one pass (the events' JSON is read once), then recounts the
// target counters and refs from audit_targets.
func (s *Store[E]) checkTargets(ctx context.Context, tx ReadTx) (string, error) {
	if problem, err := s.mergeTargets(ctx, tx); problem != "" || err != nil {
		return problem, err
	}
	for _, r := range []recount{
		// An event counts for a target id when the id is not its
		// resource's (a target of the resource's id and another type is
		// in audit_targets, but not counted here). Every row of
		// audit_targets is now known to be a target of the event of its
		// seq, in its tenant: the row counts unless that event is in the
		// resource index under the row's id, a probe of that index alone
		// (reading each event's row instead took 2.5 to 5 times as long).
		{kindTarget, sqlCountsOfKind, `SELECT t.tenant, t.id, '', count(DISTINCT t.seq) FROM audit_targets t
			WHERE NOT EXISTS (SELECT 1 FROM audit_events e ` + s.Dialect.IndexedBy("audit_events_resource") + `
				WHERE e.tenant = t.tenant AND e.resource_id = t.id AND e.seq = t.seq)
			GROUP BY t.tenant, t.id ORDER BY t.tenant, t.id`, nil, false},
		{kindTarget, sqlRefsOfKind, `SELECT tenant, id, type, count(*) FROM audit_targets
			GROUP BY tenant, id, type ORDER BY tenant, id, type`, nil, false},
	} {
		if problem, err := s.merge(ctx, tx, r); problem != "" || err != nil {
			return problem, err
		}
	}
	return "", nil
}

// mergeTargets compares audit_targets with the targets of the events and
// reports the first row that one has and the other lacks: in seq order
// (mergeTargetsBySeq), unless an event's targets are not in the plain form
// that reads, when the dialect's TargetsOf decides (mergeTargetsByKey).
func (s *Store[E]) mergeTargets(ctx context.Context, tx ReadTx) (string, error) {
	problem, ok, err := s.mergeTargetsBySeq(ctx, tx)
	if ok || err != nil {
		return problem, err
	}
	return s.mergeTargetsByKey(ctx, tx)
}

// seqTarget is a row of audit_targets, or one an event's targets make.
type seqTarget struct {
	seq             int64
	tenant, id, typ string
}

func (a seqTarget) compare(b seqTarget) int {
	return cmp.Or(cmp.Compare(a.seq, b.seq), strings.Compare(a.tenant, b.tenant), strings.Compare(a.id, b.id), strings.Compare(a.typ, b.typ))
}

// mergeTargetsBySeq walks the events that have targets in seq order (the
// log's own, no sort) and audit_targets sorted by seq (a sort of that
// table, not of the events' targets), and reports the first row that one
// has and the other lacks. Each event's targets are read from its JSON in
// Go, one event at a time (json_extract of each target, and the sort of
// every target of the log that the key order needs, were most of the
// cost of the recount of audit_targets). It returns ok false, having
// decided nothing, at the first event whose targets are not a plain array
// of objects of string values without escapes (as the library writes
// them, but for an escape): TargetsOf then decides, as json_each does.
func (s *Store[E]) mergeTargetsBySeq(ctx context.Context, tx ReadTx) (problem string, ok bool, err error) {
	evRows, err := tx.QueryxContext(ctx, `SELECT seq, tenant, resource_id, resource_type, targets FROM audit_events
		WHERE targets IS NOT NULL ORDER BY seq`)
	if err != nil {
		return "", false, err
	}
	defer evRows.Close()
	haveRows, err := tx.QueryxContext(ctx, `SELECT seq, tenant, id, type FROM audit_targets ORDER BY seq, tenant, id, type`)
	if err != nil {
		return "", false, err
	}
	defer haveRows.Close()
	// A store whose text columns hold bytes (PostgreSQL's BYTEA) hands
	// the targets over as bytes; SQLite hands TEXT over as a string, and
	// a BLOB, which json_each would read as JSONB, is left to TargetsOf.
	_, textIsBytes := s.Dialect.Args([]any{""})[0].([]byte)
	var (
		want    []seqTarget // the targets of one event, sorted
		wi      int
		have    seqTarget
		haveOK  bool
		targets any
		resID   string
		resType string
		ev      seqTarget
	)
	nextHave := func() error {
		if haveOK = haveRows.Next(); !haveOK {
			return haveRows.Err()
		}
		return haveRows.Scan(&have.seq, &have.tenant, &have.id, &have.typ)
	}
	// nextWant moves to the next of the events' targets; false at the end
	// or when an event's targets do not read (ok false then).
	nextWant := func() (bool, error) {
		for wi++; wi >= len(want); wi = 0 {
			if !evRows.Next() {
				ok = true
				return false, evRows.Err()
			}
			if err := evRows.Scan(&ev.seq, &ev.tenant, &resID, &resType, &targets); err != nil {
				return false, err
			}
			var text string
			switch t := targets.(type) {
			case string:
				text = t
			case []byte:
				if !textIsBytes {
					return false, nil
				}
				text = string(t)
			default:
				return false, nil
			}
			var readOK bool
			if want, readOK = appendTargets(want[:0], text, ev); !readOK {
				return false, nil
			}
			want = slices.DeleteFunc(want, func(t seqTarget) bool { return t.id == resID && t.typ == resType })
			slices.SortFunc(want, seqTarget.compare)
			want = slices.Compact(want)
		}
		return true, nil
	}
	wi = -1
	wantOK, err := nextWant()
	if err != nil || (!wantOK && !ok) {
		return "", false, err
	}
	if err := nextHave(); err != nil {
		return "", false, err
	}
	for wantOK || haveOK {
		c := 0
		switch {
		case !haveOK:
			c = -1
		case !wantOK:
			c = 1
		default:
			c = want[wi].compare(have)
		}
		switch {
		case c < 0:
			w := want[wi]
			return fmt.Sprintf("audit_targets lacks target %q of type %q of seq %d in tenant %q", w.id, w.typ, w.seq, w.tenant), true, nil
		case c > 0:
			return fmt.Sprintf("audit_targets has a row not among the events' targets: target %q of type %q of seq %d in tenant %q",
				have.id, have.typ, have.seq, have.tenant), true, nil
		}
		if wantOK, err = nextWant(); err != nil || (!wantOK && !ok) {
			return "", false, err
		}
		if err := nextHave(); err != nil {
			return "", false, err
		}
	}
	return "", true, nil
}

// appendTargets appends the targets of ev (its seq and tenant) that the
// JSON array text holds, each its id and type ("" when absent), as
// json_extract reads them; false when text is not a non-empty array of
// objects whose keys are among type, id and name, each at most once, and
// whose values are strings without escapes or control characters, with no
// white space.
func appendTargets(dst []seqTarget, text string, ev seqTarget) ([]seqTarget, bool) {
	str := func(i int) (string, int, bool) { // the string at text[i] ('"'), and the index after it
		if i >= len(text) || text[i] != '"' {
			return "", 0, false
		}
		for j := i + 1; j < len(text); j++ {
			switch c := text[j]; {
			case c == '"':
				return text[i+1 : j], j + 1, true
			case c == '\\' || c < 0x20:
				return "", 0, false
			}
		}
		return "", 0, false
	}
	if !strings.HasPrefix(text, "[") {
		return dst, false
	}
	i := 1
	for {
		if i >= len(text) || text[i] != '{' {
			return dst, false
		}
		i++
		t := seqTarget{seq: ev.seq, tenant: ev.tenant}
		var seen [3]bool // type, id, name
		for i < len(text) && text[i] != '}' {
			if seen != [3]bool{} {
				if text[i] != ',' {
					return dst, false
				}
				i++
			}
			key, j, ok := str(i)
			if !ok || j >= len(text) || text[j] != ':' {
				return dst, false
			}
			value, j, ok := str(j + 1)
			if !ok {
				return dst, false
			}
			i = j
			k := slices.Index([]string{"type", "id", "name"}, key)
			if k < 0 || seen[k] {
				return dst, false
			}
			seen[k] = true
			switch k {
			case 0:
				t.typ = value
			case 1:
				t.id = value
			}
		}
		if i >= len(text) {
			return dst, false
		}
		i++ // '}'
		dst = append(dst, t)
		switch {
		case i < len(text) && text[i] == ',':
			i++
		case i == len(text)-1 && text[i] == ']':
			return dst, true
		default:
			return dst, false
		}
	}
}

// mergeTargetsByKey walks the targets of the events and audit_targets side
// by side, both in the order of audit_targets' primary key (the table's
// without a sort), and reports the first row that one has and the other
// lacks.
func (s *Store[E]) mergeTargetsByKey(ctx context.Context, tx ReadTx) (string, error) {
	wantRows, err := tx.QueryxContext(ctx, expectedTargets(s.Dialect.TargetsOf())+` ORDER BY tenant, id, seq, type`)
	if err != nil {
		return "", err
	}
	defer wantRows.Close()
	haveRows, err := tx.QueryxContext(ctx, `SELECT tenant, id, type, seq FROM audit_targets ORDER BY tenant, id, seq, type`)
	if err != nil {
		return "", err
	}
	defer haveRows.Close()
	next := func(rows *sqlx.Rows, r *targetRow) (bool, error) {
		if !rows.Next() {
			return false, rows.Err()
		}
		return true, rows.Scan(&r.tenant, &r.id, &r.typ, &r.seq)
	}
	var want, have targetRow
	wantOK, err1 := next(wantRows, &want)
	haveOK, err2 := next(haveRows, &have)
	for {
		if err := errors.Join(err1, err2); err != nil {
			return "", err
		}
		var c int
		switch {
		case !wantOK && !haveOK:
			return "", nil
		case !haveOK:
			c = -1
		case !wantOK:
			c = 1
		default:
			c = cmp.Or(strings.Compare(want.tenant, have.tenant), strings.Compare(want.id, have.id),
				cmp.Compare(want.seq, have.seq), strings.Compare(want.typ, have.typ))
		}
		switch {
		case c < 0:
			return fmt.Sprintf("audit_targets lacks target %q of type %q of seq %d in tenant %q", want.id, want.typ, want.seq, want.tenant), nil
		case c > 0:
			return fmt.Sprintf("audit_targets has a row not among the events' targets: target %q of type %q of seq %d in tenant %q",
				have.id, have.typ, have.seq, have.tenant), nil
		}
		wantOK, err1 = next(wantRows, &want)
		haveOK, err2 = next(haveRows, &have)
	}
}

// refTermBatch is how many terms checkRefTerms looks up per statement: a
// round trip each on a server.
const refTermBatch = 64

// refTerm is a term a ref must have (kind is the term's kind, refKind the
// ref's), or one of audit_ref_terms.
type refTerm struct {
	Tenant  string `db:"tenant"`
	Term    string `db:"term"`
	Kind    string `db:"kind"`
	ID      string `db:"id"`
	Type    string `db:"type"`
	refKind string
}

// sqlStrayRefTerm finds a term whose ref is not in audit_refs: an actor's
// among the actors, a resource's among the resources or the targets (by
// primary key each).
const sqlStrayRefTerm = `SELECT t.tenant, t.term, t.kind, t.id, t.type FROM audit_ref_terms t
	WHERE NOT EXISTS (SELECT 1 FROM audit_refs r WHERE r.tenant = t.tenant AND r.kind = t.kind AND r.id = t.id AND r.type = t.type)
	AND NOT (t.kind = '` + kindResource + `' AND EXISTS (SELECT 1 FROM audit_refs r
		WHERE r.tenant = t.tenant AND r.kind = '` + kindTarget + `' AND r.id = t.id AND r.type = t.type))
	LIMIT 1`

// checkRefTerms checks that every ref has the terms of its ID and current
// name (which only the writer's code derives: they are looked up,
// refTermBatch at a time, while the refs are read in key order), and that
// every term belongs to a ref (in one statement).
func (s *Store[E]) checkRefTerms(ctx context.Context, tx ReadTx) (string, error) {
	// A full batch's statement is prepared once where the transaction is
	// one connection's (SQLite's): compiling its refTermBatch conditions
	// took more than half of this check. (PostgreSQL's recount spreads
	// its reads over two transactions; it compiles each batch.)
	var full *sqlx.Stmt
	if one, ok := tx.(*sqlx.Tx); ok {
		st, err := one.PreparexContext(ctx, s.Dialect.Rebind(refTermsSQL(refTermBatch)))
		if err != nil {
			return "", err
		}
		defer st.Close()
		full = st
	}
	refs, err := tx.QueryxContext(ctx, `SELECT tenant, kind, id, type, name FROM audit_refs ORDER BY tenant, kind, id, type`)
	if err != nil {
		return "", err
	}
	defer refs.Close()
	batch := make([]refTerm, 0, refTermBatch)
	for refs.Next() {
		var tenant, kind, id, typ, name string
		if err := refs.Scan(&tenant, &kind, &id, &typ, &name); err != nil {
			return "", err
		}
		for _, term := range RefTerms(id, name) {
			batch = append(batch, refTerm{Tenant: tenant, Term: term, Kind: termKind(kind), ID: id, Type: typ, refKind: kind})
			if len(batch) < refTermBatch {
				continue
			}
			if problem, err := s.lookUpRefTerms(ctx, tx, full, batch); problem != "" || err != nil {
				return problem, err
			}
			batch = batch[:0]
		}
	}
	if err := refs.Err(); err != nil {
		return "", err
	}
	if problem, err := s.lookUpRefTerms(ctx, tx, nil, batch); problem != "" || err != nil {
		return problem, err
	}
	var t refTerm
	err = tx.QueryRowxContext(ctx, sqlStrayRefTerm).Scan(&t.Tenant, &t.Term, &t.Kind, &t.ID, &t.Type)
	switch {
	case err == nil:
		return fmt.Sprintf("audit_ref_terms has term %q of %s %q of type %q in tenant %q, which has no events", t.Term, t.Kind, t.ID, t.Type, t.Tenant), nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", err
	}
	return "", nil
}

// refTermsSQL selects the rows of audit_ref_terms among n given ones.
func refTermsSQL(n int) string {
	return `SELECT tenant, term, kind, id, type FROM audit_ref_terms WHERE ` +
		strings.Repeat(`(tenant = ? AND term = ? AND kind = ? AND id = ? AND type = ?) OR `, n-1) +
		`(tenant = ? AND term = ? AND kind = ? AND id = ? AND type = ?)`
}

// lookUpRefTerms reports the first of want that audit_ref_terms lacks. It
// reads with one statement, which returns its rows whole (a read of the
// refs is open meanwhile): full, when it is given and want is a full
// batch, or the text compiled for this call.
func (s *Store[E]) lookUpRefTerms(ctx context.Context, tx ReadTx, full *sqlx.Stmt, want []refTerm) (string, error) {
	if len(want) == 0 {
		return "", nil
	}
	args := make([]any, 0, 5*len(want))
	for _, w := range want {
		args = append(args, w.Tenant, w.Term, w.Kind, w.ID, w.Type)
	}
	var found []refTerm
	var err error
	if full != nil && len(want) == refTermBatch {
		err = full.SelectContext(ctx, &found, s.Dialect.Args(args)...)
	} else {
		err = tx.SelectContext(ctx, &found, s.Dialect.Rebind(refTermsSQL(len(want))), s.Dialect.Args(args)...)
	}
	if err != nil {
		return "", err
	}
	have := make(map[refTerm]bool, len(found))
	for _, f := range found {
		have[f] = true
	}
	for _, w := range want {
		k := w
		k.refKind = "" // as read
		if !have[k] {
			return fmt.Sprintf("audit_ref_terms lacks term %q of %s %q of type %q in tenant %q", w.Term, w.refKind, w.ID, w.Type, w.Tenant), nil
		}
	}
	return "", nil
}

// checkTerms checks that audit_action_terms holds exactly the terms of every
// action the counters know (which mergeCounts checked against the log).
func (s *Store[E]) checkTerms(ctx context.Context, tx ReadTx) (string, error) {
	aRows, err := tx.QueryxContext(ctx, s.Dialect.Rebind(sqlCountsOfKind), s.Dialect.Args([]any{kindAction})...)
	if err != nil {
		return "", err
	}
	defer aRows.Close()
	tRows, err := tx.QueryxContext(ctx, sqlAllTerms)
	if err != nil {
		return "", err
	}
	defer tRows.Close()
	actions := &rowStream{rows: aRows}
	if err := actions.next(); err != nil {
		return "", err
	}
	type term struct {
		tenant, action, term string
		seg                  int
	}
	var t term
	haveTerm := tRows.Next()
	if haveTerm {
		if err := tRows.Scan(&t.tenant, &t.action, &t.term, &t.seg); err != nil {
			return "", err
		}
	}
	stray := func(t term) string {
		return fmt.Sprintf("audit_action_terms has term %q of action %q in tenant %q, which has no events", t.term, t.action, t.tenant)
	}
	for actions.ok {
		a := actions.cur
		if haveTerm && cmp.Or(strings.Compare(t.tenant, a.tenant), strings.Compare(t.action, a.key)) < 0 {
			return stray(t), nil
		}
		for seg, want := range ActionTerms(a.key) {
			if !haveTerm || t.tenant != a.tenant || t.action != a.key || t.seg != seg || t.term != want {
				return fmt.Sprintf("audit_action_terms lacks term %q (segment %d) of action %q in tenant %q", want, seg, a.key, a.tenant), nil
			}
			if haveTerm = tRows.Next(); haveTerm {
				if err := tRows.Scan(&t.tenant, &t.action, &t.term, &t.seg); err != nil {
					return "", err
				}
			}
		}
		if haveTerm && t.tenant == a.tenant && t.action == a.key {
			return fmt.Sprintf("audit_action_terms has term %q that action %q in tenant %q does not have", t.term, a.key, a.tenant), nil
		}
		if err := actions.next(); err != nil {
			return "", err
		}
	}
	if err := tRows.Err(); err != nil {
		return "", err
	}
	if haveTerm {
		return stray(t), nil
	}
	return "", nil
}
