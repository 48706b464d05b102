package sqlcore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
)

// The recounts of CheckDerived, each in the order of its counter rows:
// every counter kind from the index that serves it, grouped in index order
// (no sort).
var derivedCounts = [...]struct{ kind, column, index string }{
	{kindTotal, "''", "audit_events_tenant"},
	{kindActor, "actor_id", "audit_events_actor"},
	{kindResource, "resource_id", "audit_events_resource"},
	{kindAction, "action", "audit_events_action"},
}

// recountSQL groups the events by tenant and column, in the order of the
// index that serves it.
func (s *Store[E]) recountSQL(column, index string) string {
	group, order := "tenant, "+column, "tenant, "+column
	if column == "''" {
		group, order = "tenant", "tenant"
	}
	return `SELECT tenant, ` + column + `, count(*) FROM audit_events ` + s.Dialect.IndexedBy(index) +
		` GROUP BY ` + group + ` ORDER BY ` + order
}

const (
	sqlCountersOfKind = `SELECT tenant, key, n FROM audit_counts WHERE kind = ? ORDER BY tenant, key`
	sqlCounterKinds   = `SELECT DISTINCT kind FROM audit_counts`
	sqlAllTerms       = `SELECT tenant, action, term, seg FROM audit_action_terms ORDER BY tenant, action, seg`
)

// counterRow is a (tenant, key, n) row of either side of a recount.
type counterRow struct {
	tenant, key string
	n           int64
}

// rowStream reads counterRows one at a time.
type rowStream struct {
	rows *sqlx.Rows
	cur  counterRow
	ok   bool
}

func (r *rowStream) next() error {
	r.ok = r.rows.Next()
	if !r.ok {
		return r.rows.Err()
	}
	return r.rows.Scan(&r.cur.tenant, &r.cur.key, &r.cur.n)
}

// CheckDerived recounts audit_counts from the events and rebuilds the
// typeahead terms of every action, in tx (one snapshot), streaming both
// sides in the same order (memory does not grow with the log). It returns
// "" when they agree, or what disagrees first.
func (s *Store[E]) CheckDerived(ctx context.Context, tx ReadTx) (string, error) {
	var kinds []string
	if err := tx.SelectContext(ctx, &kinds, sqlCounterKinds); err != nil {
		return "", err
	}
	for _, k := range kinds {
		if !slices.Contains(CounterKinds[:], k) {
			return fmt.Sprintf("audit_counts has rows of unknown kind %q", k), nil
		}
	}
	for _, d := range derivedCounts {
		problem, err := s.mergeCounts(ctx, tx, d.kind, s.recountSQL(d.column, d.index))
		if problem != "" || err != nil {
			return problem, err
		}
	}
	return s.checkTerms(ctx, tx)
}

// mergeCounts walks the recount and the counters of kind side by side and
// reports the first key on which they differ.
func (s *Store[E]) mergeCounts(ctx context.Context, tx ReadTx, kind, recount string) (string, error) {
	evRows, err := tx.QueryxContext(ctx, recount)
	if err != nil {
		return "", err
	}
	defer evRows.Close()
	cRows, err := tx.QueryxContext(ctx, s.Dialect.Rebind(sqlCountersOfKind), s.Dialect.Args([]any{kind})...)
	if err != nil {
		return "", err
	}
	defer cRows.Close()
	ev, cn := &rowStream{rows: evRows}, &rowStream{rows: cRows}
	if err := errors.Join(ev.next(), cn.next()); err != nil {
		return "", err
	}
	for ev.ok || cn.ok {
		c := 0
		switch {
		case !cn.ok:
			c = -1
		case !ev.ok:
			c = 1
		default:
			c = cmp.Or(strings.Compare(ev.cur.tenant, cn.cur.tenant), strings.Compare(ev.cur.key, cn.cur.key))
		}
		switch {
		case c < 0:
			return fmt.Sprintf("audit_counts has no %s counter for %q in tenant %q, which has %d events", kind, ev.cur.key, ev.cur.tenant, ev.cur.n), nil
		case c > 0:
			return fmt.Sprintf("audit_counts counts %d events of %s %q in tenant %q, which has none", cn.cur.n, kind, cn.cur.key, cn.cur.tenant), nil
		case ev.cur.n != cn.cur.n:
			return fmt.Sprintf("audit_counts counts %d events of %s %q in tenant %q, the log has %d", cn.cur.n, kind, cn.cur.key, cn.cur.tenant, ev.cur.n), nil
		}
		if err := errors.Join(ev.next(), cn.next()); err != nil {
			return "", err
		}
	}
	return "", nil
}

// checkTerms checks that audit_action_terms holds exactly the terms of every
// action the counters know (which mergeCounts checked against the log).
func (s *Store[E]) checkTerms(ctx context.Context, tx ReadTx) (string, error) {
	aRows, err := tx.QueryxContext(ctx, s.Dialect.Rebind(sqlCountersOfKind), s.Dialect.Args([]any{kindAction})...)
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
