package sqlcore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
)

// The counts of the derived tables are folded in, not kept in every
// commit, on a store whose Fold is set (SQLite's, schema migration 5; the
// PostgreSQL store keeps them in every commit, and its views are its
// tables).
//
// A write transaction inserts its events and their audit_targets rows,
// and makes sure that every key its events count (a tenant's total, an
// action, the failures, a target id; an actor, resource or target ref)
// has its row, with the ref's latest name and the typeahead terms of new
// actions, refs and names: the catalogues are always whole. It does not
// add to the rows' counts. Every FoldEvery events, the write transaction
// that reaches the mark reads back the events since the last fold, adds
// them to the counts in one pass, and moves audit_fold's seq, the last
// event the counts hold, to its head.
//
// Every read of a count goes through the views audit_counts_now and
// audit_refs_now, which add to each row the events after audit_fold's seq
// that it counts, read from the same indexes the pages walk (an index
// range of at most FoldEvery entries past the fold, in one statement, so
// in one snapshot). Totals stay exact; a write touches no counter page,
// where keeping the counts in every commit wrote three more pages to the
// WAL and cost a lone event half its CPU (BENCHMARKS.md).
//
// A writer remembers the keys it made sure of (keyCache), so that an event
// of known keys runs no statement for them. The memory is good while the
// chain's head is the one its last transaction left: another writer, or a
// rolled-back transaction, moves the head elsewhere, and it is forgotten.

// DefaultFoldEvery is how many events the counts may lag behind the log
// before a write folds them in: enough to share the counter pages among
// a hundred events (a fold every 64 to 512 events wrote within 2% of the
// same bytes per event, BenchmarkAppend), few enough that a read adds the
// events since in tens of microseconds at worst (BenchmarkFoldLag).
const DefaultFoldEvery = 128

var foldEvery atomic.Int64

// FoldEvery returns how many events the write path lets the counts lag
// before it folds them in.
func FoldEvery() int64 {
	if n := foldEvery.Load(); n > 0 {
		return n
	}
	return DefaultFoldEvery
}

// SetFoldEvery sets FoldEvery (n <= 0 restores the default) and returns
// the previous setting, for tests that exercise both sides of a fold. It
// changes when counts are folded, never what a read returns.
func SetFoldEvery(n int64) int64 {
	old := foldEvery.Swap(max(n, 0))
	if old == 0 {
		return DefaultFoldEvery
	}
	return old
}

// SQL of the fold.
const (
	sqlFoldSeq  = `SELECT seq FROM audit_fold`
	sqlFoldMove = `UPDATE audit_fold SET seq = ?`
	sqlFoldRead = `SELECT seq, tenant, action, outcome, actor_type, actor_id, actor_name,
	resource_type, resource_id, resource_name, targets FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`

	// A key's row, with no count; the new ones returned (a new action's
	// terms are added).
	sqlEnsureCounts     = `INSERT INTO audit_counts (tenant, kind, key, n) VALUES (?, ?, ?, 0)`
	sqlEnsureCountsMore = `, (?, ?, ?, 0)`
	sqlEnsureCountsTail = ` ON CONFLICT (tenant, kind, key) DO NOTHING RETURNING tenant, kind, key`

	// A ref's row with its latest name, with no count; the new and renamed
	// ones returned (their terms are added). A ref whose name is the same
	// (or not given) is neither written nor returned.
	sqlEnsureRefs     = `INSERT INTO audit_refs (tenant, kind, id, type, name, n) VALUES (?, ?, ?, ?, ?, 0)`
	sqlEnsureRefsMore = `, (?, ?, ?, ?, ?, 0)`
	sqlEnsureRefsTail = ` ON CONFLICT (tenant, kind, id, type) DO UPDATE SET name = excluded.name
		WHERE excluded.name <> '' AND excluded.name <> audit_refs.name RETURNING tenant, kind, id, type, name`

	// The fold adds counts (the rows exist; a missing one is made).
	sqlFoldCountsTail = ` ON CONFLICT (tenant, kind, key) DO UPDATE SET n = audit_counts.n + excluded.n`
	sqlFoldRefsTail   = ` ON CONFLICT (tenant, kind, id, type) DO UPDATE SET n = audit_refs.n + excluded.n`
)

// maxCachedKeys bounds a writer's keyCache; past it, the cache starts
// over.
const maxCachedKeys = 1 << 16

// keyCache is what a writer knows the derived tables hold, as of the head
// of the chain its last transaction left (see the fold's comment above).
type keyCache struct {
	head     int64 // -1: nothing known
	hash     []byte
	fold     int64 // audit_fold's seq
	counts   map[countKey]struct{}
	refs     map[refKey]string // the ref's row exists, with this name ("": unknown)
	foldSeen bool
	// pending is the tally of the events after fold, when the writer
	// counted all of them (pendingOK): the next fold adds it without
	// reading them back.
	pending   *tally
	pendingOK bool
}

func newKeyCache() *keyCache {
	return &keyCache{head: -1, counts: map[countKey]struct{}{}, refs: map[refKey]string{}, pending: newTally()}
}

// merge adds u's counts to t (u's events come after t's).
func (t *tally) merge(u *tally) {
	for k, n := range u.counts {
		t.counts[k] += n
	}
	for k, c := range u.refs {
		tc := t.refs[k]
		if tc == nil {
			tc = &refCount{}
			t.refs[k] = tc
		}
		tc.n += c.n
		if c.name != "" {
			tc.name = c.name
		}
	}
}

// check forgets everything unless the chain's head is the one the cache
// was left at, and marks the cache in use until done.
func (c *keyCache) check(head int64, hash []byte) {
	if c.head != head || !bytes.Equal(c.hash, hash) || len(c.counts)+len(c.refs) > maxCachedKeys {
		clear(c.counts)
		clear(c.refs)
		c.foldSeen, c.pendingOK = false, false
	}
	c.head = -1 // until done: a transaction that fails leaves nothing known
}

// done records the head the transaction leaves, with the fold's seq.
func (c *keyCache) done(head int64, hash []byte, fold int64) {
	c.head, c.hash, c.fold, c.foldSeen = head, bytes.Clone(hash), fold, true
}

// derive keeps the derived tables for the events t counted, in the write
// transaction: the rows and terms of their keys, their audit_targets rows,
// and a fold of the counts when one is due (head is the new head).
func derive[E any](ctx context.Context, s *Store[E], st *Stmts, t *tally, head int64) (fold int64, err error) {
	d := s.Dialect
	if err := ensureCounts(ctx, d, st, t); err != nil {
		return 0, err
	}
	if err := ensureRefs(ctx, d, st, t); err != nil {
		return 0, err
	}
	if err := t.insertTargets(ctx, d, st); err != nil {
		return 0, err
	}
	c := st.cache
	fold = c.fold
	if !c.foldSeen {
		x, err := st.one(ctx, sqlFoldSeq)
		if err == nil {
			err = x.QueryRowxContext(ctx).Scan(&fold)
		}
		if err != nil {
			return 0, fmt.Errorf("read the fold: %w", d.Classify(err))
		}
		// The events between the fold and this transaction's were
		// counted elsewhere (or before this writer): read back.
		clear(c.pending.counts)
		clear(c.pending.refs)
		c.pendingOK = fold == head-t.events
	}
	if c.pendingOK {
		c.pending.merge(t)
	}
	if head-fold < FoldEvery() {
		return fold, nil
	}
	if c.pendingOK {
		err = c.pending.foldCounts(ctx, d, st)
		if err == nil {
			err = moveFold(ctx, d, st, head)
		}
		if err != nil {
			return 0, fmt.Errorf("fold: %w", d.Classify(err))
		}
	} else if err := s.foldIn(ctx, st, fold, head); err != nil {
		return 0, err
	}
	clear(c.pending.counts)
	clear(c.pending.refs)
	c.pendingOK = true
	return head, nil
}

// moveFold moves audit_fold to seq.
func moveFold(ctx context.Context, d Dialect, st *Stmts, seq int64) error {
	move, err := st.one(ctx, sqlFoldMove)
	if err == nil {
		_, err = move.ExecContext(ctx, d.Args([]any{seq})...)
	}
	return err
}

// ensureCounts makes sure every counter t counts has its row, and adds the
// terms of the actions that are new.
func ensureCounts(ctx context.Context, d Dialect, st *Stmts, t *tally) error {
	c := st.cache
	var keys []countKey
	for k := range t.counts {
		if _, ok := c.counts[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareCountKeys)
	var fresh []countKey
	err := inChunks(keys, maxCountRows, func(part []countKey) error {
		x, err := st.multi(ctx, st.ensureCountN, len(part), sqlEnsureCounts, sqlEnsureCountsMore, sqlEnsureCountsTail)
		if err != nil {
			return err
		}
		args := make([]any, 0, 3*len(part))
		for _, k := range part {
			args = append(args, k.tenant, k.kind, k.key)
		}
		return queryEach(ctx, x, d.Args(args), func(rows *sqlx.Rows) error {
			var k countKey
			if err := rows.Scan(&k.tenant, &k.kind, &k.key); err != nil {
				return err
			}
			if k.kind == kindAction {
				fresh = append(fresh, k)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("update counts: %w", d.Classify(err))
	}
	if err := addActionTerms(ctx, d, st, fresh); err != nil {
		return err
	}
	for _, k := range keys {
		c.counts[k] = struct{}{}
	}
	return nil
}

// ensureRefs makes sure every ref t counts has its row with its latest
// name, and adds the terms of the refs that are new or renamed.
func ensureRefs(ctx context.Context, d Dialect, st *Stmts, t *tally) error {
	c := st.cache
	var keys []refKey
	for k, rc := range t.refs {
		if name, ok := c.refs[k]; !ok || rc.name != "" && rc.name != name {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareRefKeys)
	var named []namedRef
	err := inChunks(keys, maxRefRows, func(part []refKey) error {
		x, err := st.multi(ctx, st.ensureRefN, len(part), sqlEnsureRefs, sqlEnsureRefsMore, sqlEnsureRefsTail)
		if err != nil {
			return err
		}
		args := make([]any, 0, 5*len(part))
		for _, k := range part {
			args = append(args, k.tenant, k.kind, k.id, k.typ, t.refs[k].name)
		}
		return queryEach(ctx, x, d.Args(args), func(rows *sqlx.Rows) error {
			// New or renamed: its ID's term, if any, may be missing too.
			r := namedRef{fresh: true}
			if err := rows.Scan(&r.tenant, &r.kind, &r.id, &r.typ, &r.name); err != nil {
				return err
			}
			named = append(named, r)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("update refs: %w", d.Classify(err))
	}
	if err := addRefTerms(ctx, d, st, named); err != nil {
		return err
	}
	for _, k := range keys {
		c.refs[k] = t.refs[k].name
	}
	return nil
}

// foldIn adds the events after seq from up to seq to to the counts, and
// moves audit_fold there.
func (s *Store[E]) foldIn(ctx context.Context, st *Stmts, from, to int64) error {
	d := s.Dialect
	x, err := st.one(ctx, sqlFoldRead)
	if err != nil {
		return fmt.Errorf("fold: %w", d.Classify(err))
	}
	err = readTallies(from, func(after int64) (*sqlx.Rows, error) {
		return x.QueryxContext(ctx, d.Args([]any{after, to, backfillChunk})...)
	}, false, func(t *tally) error {
		return t.foldCounts(ctx, d, st)
	})
	if err != nil {
		return fmt.Errorf("fold: %w", d.Classify(err))
	}
	if err := moveFold(ctx, d, st, to); err != nil {
		return fmt.Errorf("fold: %w", d.Classify(err))
	}
	return nil
}

// foldCounts adds t's counts to audit_counts and audit_refs.
func (t *tally) foldCounts(ctx context.Context, d Dialect, st *Stmts) error {
	err := inChunks(sortedKeys(t.counts, compareCountKeys), maxCountRows, func(part []countKey) error {
		x, err := st.multi(ctx, st.foldCountN, len(part), sqlBumpCounts, sqlBumpCountsMore, sqlFoldCountsTail)
		if err == nil {
			_, err = x.ExecContext(ctx, d.Args(counterArgs(part, t.counts))...)
		}
		return err
	})
	if err != nil {
		return err
	}
	return inChunks(sortedKeys(t.refs, compareRefKeys), maxRefRows, func(part []refKey) error {
		x, err := st.multi(ctx, st.foldRefN, len(part), sqlBumpRefs, sqlBumpRefsMore, sqlFoldRefsTail)
		if err == nil {
			_, err = x.ExecContext(ctx, d.Args(refArgs(part, t.refs))...)
		}
		return err
	})
}

// readTallies reads the events query returns (what the derived tables
// need of them, in seq order, up to backfillChunk per call, starting
// after seq after) and hands fn a tally of each chunk.
func readTallies(after int64, query func(after int64) (*sqlx.Rows, error), since4 bool, fn func(t *tally) error) error {
	for {
		rows, err := query(after)
		if err != nil {
			return err
		}
		t := newTally()
		t.since4 = since4
		n := 0
		for rows.Next() {
			var r Row
			if err := rows.Scan(&r.Seq, &r.Tenant, &r.Action, &r.Outcome, &r.ActorType, &r.ActorID, &r.ActorName,
				&r.ResourceType, &r.ResourceID, &r.ResourceName, &r.Targets); err != nil {
				rows.Close()
				return err
			}
			if r.Targets.Valid {
				if err := json.Unmarshal([]byte(r.Targets.String), &r.TargetRefs); err != nil {
					rows.Close()
					return fmt.Errorf("event %d: targets: %w", r.Seq, err)
				}
			}
			t.add(&r)
			after, n = r.Seq, n+1
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if err := fn(t); err != nil {
			return err
		}
	}
}
