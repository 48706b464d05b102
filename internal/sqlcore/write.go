package sqlcore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Codec maps the events of the audit package to rows and back, and hashes
// a row into the chain. Package audit provides it (audit.SQLCodec).
type Codec[E any] interface {
	// Encode returns the columns of e, which the logger has validated,
	// with Seq, RecordedAt, the hashes and HashVersion still unset.
	Encode(e E) (Row, error)
	// Decode returns the event a row read back holds.
	Decode(r *Row) (E, error)
	// Stamp returns e as appended in row r: with r's Seq, RecordedAt and
	// hashes.
	Stamp(e E, r *Row) E
	// Hash sets r.HashVersion and returns the hash of r chained to
	// r.PrevHash, using *buf as scratch space.
	Hash(buf *[]byte, r *Row) []byte
}

// Store is the shared code of a SQL store of events of type E.
type Store[E any] struct {
	Dialect Dialect
	Codec   Codec[E]
	// Fold: the write path folds the counts in every FoldEvery events
	// (see fold.go), and the store's views audit_counts_now and
	// audit_refs_now add the events since. Without it, every write
	// transaction adds its events to the counts, and the views are the
	// tables.
	Fold bool
}

// Result is the outcome of one event of an Append: the event as stored, or
// the first event with its idempotency key, or an error about it alone.
type Result[E any] struct {
	Event E
	Err   error
}

// SQL run by the writer.
const (
	sqlHead = `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`

	sqlByKey = `SELECT ` + Columns + ` FROM audit_events WHERE tenant = ? AND idempotency_key = ?`

	sqlInsert = `INSERT INTO audit_events (seq, id, tenant, action, actor_type, actor_id, actor_name,
		resource_type, resource_id, resource_name, targets, outcome, metadata, idempotency_key,
		occurred_at, recorded_at, prev_hash, hash, hash_version, origin_ip, origin_user_agent, origin_request_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlInsertMore = `, (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

	// sqlBumpCounts takes more rows of values, then sqlBumpCountsTail.
	sqlBumpCounts     = `INSERT INTO audit_counts (tenant, kind, key, n) VALUES (?, ?, ?, ?)`
	sqlBumpCountsMore = `, (?, ?, ?, ?)`
	sqlBumpCountsTail = ` ON CONFLICT (tenant, kind, key) DO UPDATE SET n = audit_counts.n + excluded.n
		RETURNING tenant, kind, key, n`

	sqlAddTerm = `INSERT INTO audit_action_terms (tenant, term, action, seg) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`
)

// maxInsertRows is the most events one INSERT statement carries;
// maxCountRows the most counters one upsert carries.
const (
	maxInsertRows = 32
	maxCountRows  = 64
)

// Stmts are the statements of the write path, prepared on one connection
// (or on a caller's transaction), with the multi-row ones prepared once
// per size as they are needed.
type Stmts struct {
	d                    Dialect
	p                    Preparer
	head, byKey, addTerm *sqlx.Stmt
	insertN              map[int]*sqlx.Stmt // INSERT of n events
	countN               map[int]*sqlx.Stmt // upsert of n counters, returning them
	refN                 map[int]*sqlx.Stmt // upsert of n refs, returning them
	refTermN             map[int]*sqlx.Stmt // insert of n ref terms
	targetN              map[int]*sqlx.Stmt // insert of n target rows
	ensureCountN         map[int]*sqlx.Stmt // the rows of n counters, returning the new
	ensureRefN           map[int]*sqlx.Stmt // the rows of n refs, returning the new and renamed
	foldCountN           map[int]*sqlx.Stmt // fold of n counters
	foldRefN             map[int]*sqlx.Stmt // fold of n refs
	ones                 map[string]*sqlx.Stmt
	cache                *keyCache
}

// Prepare prepares the statements of the write path on p.
func (s *Store[E]) Prepare(ctx context.Context, p Preparer) (*Stmts, error) {
	st := &Stmts{d: s.Dialect, p: p, insertN: map[int]*sqlx.Stmt{}, countN: map[int]*sqlx.Stmt{},
		refN: map[int]*sqlx.Stmt{}, refTermN: map[int]*sqlx.Stmt{}, targetN: map[int]*sqlx.Stmt{},
		ensureCountN: map[int]*sqlx.Stmt{}, ensureRefN: map[int]*sqlx.Stmt{}, foldCountN: map[int]*sqlx.Stmt{},
		foldRefN: map[int]*sqlx.Stmt{}, ones: map[string]*sqlx.Stmt{}, cache: newKeyCache()}
	for _, x := range []struct {
		dst **sqlx.Stmt
		sql string
	}{{&st.head, sqlHead}, {&st.byKey, sqlByKey}, {&st.addTerm, sqlAddTerm}} {
		var err error
		if *x.dst, err = st.prepare(ctx, x.sql); err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("prepare: %w", s.Dialect.Classify(err))
		}
	}
	return st, nil
}

func (st *Stmts) prepare(ctx context.Context, query string) (*sqlx.Stmt, error) {
	return st.p.PreparexContext(ctx, st.d.Rebind(query))
}

// one returns the statement of query, prepared on first use (the fold's
// statements name a table that migration 4's backfill, which runs on
// these statements, does not have yet).
func (st *Stmts) one(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if x, ok := st.ones[query]; ok {
		return x, nil
	}
	x, err := st.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	st.ones[query] = x
	return x, nil
}

// multi returns the statement of head followed by n-1 repetitions of more,
// then tail, prepared once per n.
func (st *Stmts) multi(ctx context.Context, cache map[int]*sqlx.Stmt, n int, head, more, tail string) (*sqlx.Stmt, error) {
	if x, ok := cache[n]; ok {
		return x, nil
	}
	x, err := st.prepare(ctx, head+strings.Repeat(more, n-1)+tail)
	if err != nil {
		return nil, err
	}
	cache[n] = x
	return x, nil
}

// Close closes the statements.
func (st *Stmts) Close() error {
	var errs []error
	for _, x := range []*sqlx.Stmt{st.head, st.byKey, st.addTerm} {
		if x != nil {
			errs = append(errs, x.Close())
		}
	}
	for _, x := range st.ones {
		errs = append(errs, x.Close())
	}
	for _, m := range []map[int]*sqlx.Stmt{st.insertN, st.countN, st.refN, st.refTermN, st.targetN,
		st.ensureCountN, st.ensureRefN, st.foldCountN, st.foldRefN} {
		for _, x := range m {
			errs = append(errs, x.Close())
		}
	}
	return errors.Join(errs...)
}

// genesis is what the first event chains to.
var genesis = make([]byte, 32)

// Append writes events inside the transaction st was prepared on, in order,
// and returns one result per event; an error means the transaction must be
// rolled back. It reads the head of the chain inside the transaction,
// returns the first event for an idempotency key used before (in the log
// or earlier in the batch), chains and inserts the others several rows per
// statement (a statement that breaks a constraint is redone one event at a
// time, so that only the offending events fail and the chain skips them),
// and counts what it inserted.
func (s *Store[E]) Append(ctx context.Context, st *Stmts, events []E) ([]Result[E], error) {
	b := &batch[E]{s: s, st: st, events: events,
		rows: make([]Row, len(events)), state: make([]state, len(events)), res: make([]Result[E], len(events))}
	if err := b.readHead(ctx); err != nil {
		return nil, err
	}
	b.encode()
	if err := b.resolveKeys(ctx); err != nil {
		return nil, err
	}
	if err := b.insert(ctx); err != nil {
		return nil, err
	}
	b.copyDuplicates()
	if err := b.count(ctx); err != nil {
		return nil, err
	}
	return b.res, nil
}

// state is where one event of a batch stands.
type state uint8

const (
	pending   state = iota
	failed          // res holds its error
	earlier         // res holds the first event of its key, from the log
	duplicate       // its key is used earlier in the batch, at dupOf
	inserted
)

// batch is one Append.
type batch[E any] struct {
	s      *Store[E]
	st     *Stmts
	events []E
	rows   []Row
	state  []state
	res    []Result[E]
	dupOf  map[int]int // index -> index of the first event with its key

	head int64  // seq of the newest event, as the chain stands
	prev []byte // its hash
	now  int64
	buf  []byte
}

// readHead reads the head of the chain inside the write transaction, never
// from memory: another process may have appended since.
func (b *batch[E]) readHead(ctx context.Context) error {
	err := b.st.head.QueryRowxContext(ctx).Scan(&b.head, &b.prev)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		b.head, b.prev = 0, genesis
	case err != nil:
		return fmt.Errorf("read head: %w", b.s.Dialect.Classify(err))
	}
	b.now = time.Now().UnixNano()
	b.st.cache.check(b.head, b.prev)
	return nil
}

// encode turns each event into its row; an event that cannot be encoded
// fails alone.
func (b *batch[E]) encode() {
	for i, e := range b.events {
		r, err := b.s.Codec.Encode(e)
		if err != nil {
			b.state[i], b.res[i].Err = failed, err
			continue
		}
		b.rows[i] = r
	}
}

// resolveKeys finds the events whose idempotency key was used before: in
// the log (their result is the first event) or earlier in this batch.
func (b *batch[E]) resolveKeys(ctx context.Context) error {
	first := make(map[[2]string]int) // tenant, key -> index of the first in this batch
	b.dupOf = make(map[int]int)
	for i := range b.rows {
		r := &b.rows[i]
		if b.state[i] != pending || !r.IdempotencyKey.Valid {
			continue
		}
		k := [2]string{r.Tenant, r.IdempotencyKey.String}
		if j, ok := first[k]; ok {
			b.state[i], b.dupOf[i] = duplicate, j
			continue
		}
		var old Row
		err := b.st.byKey.QueryRowxContext(ctx, b.s.Dialect.Args([]any{r.Tenant, r.IdempotencyKey.String})...).Scan(old.Dest()...)
		switch {
		case err == nil:
			e, err := b.s.Codec.Decode(&old)
			b.state[i], b.res[i] = earlier, Result[E]{Event: e, Err: err}
		case errors.Is(err, sql.ErrNoRows):
			first[k] = i
		default:
			return fmt.Errorf("look up idempotency key: %w", b.s.Dialect.Classify(err))
		}
	}
	return nil
}

// chain assigns row i the next seq and its hash, and moves the head to it.
func (b *batch[E]) chain(i int) *Row {
	r := &b.rows[i]
	r.Seq, r.RecordedAt, r.PrevHash = b.head+1, b.now, b.prev
	r.Hash = b.s.Codec.Hash(&b.buf, r)
	b.head, b.prev = r.Seq, r.Hash
	return r
}

// insert chains and inserts the pending events, maxInsertRows per
// statement; once a statement breaks a constraint, the rest go one by one.
func (b *batch[E]) insert(ctx context.Context) error {
	var todo []int
	for i := range b.rows {
		if b.state[i] == pending {
			todo = append(todo, i)
		}
	}
	rows := make([]*Row, 0, maxInsertRows)
	for len(todo) > 0 {
		n := min(len(todo), maxInsertRows)
		head, prev := b.head, b.prev
		rows = rows[:0]
		for _, i := range todo[:n] {
			rows = append(rows, b.chain(i))
		}
		err := b.insertRows(ctx, rows)
		if err == nil {
			b.done(todo[:n])
			todo = todo[n:]
			continue
		}
		if !b.s.Dialect.IsConstraint(err) {
			return fmt.Errorf("insert: %w", err)
		}
		b.head, b.prev = head, prev
		return b.insertOneByOne(ctx, todo)
	}
	return nil
}

// insertOneByOne inserts each event on its own: one that breaks a
// constraint fails alone, and the chain skips it.
func (b *batch[E]) insertOneByOne(ctx context.Context, todo []int) error {
	for _, i := range todo {
		head, prev := b.head, b.prev
		err := b.insertRows(ctx, []*Row{b.chain(i)})
		switch {
		case err == nil:
			b.done([]int{i})
		case b.s.Dialect.IsConstraint(err):
			b.state[i], b.res[i].Err = failed, fmt.Errorf("insert: %w", err)
			b.head, b.prev = head, prev
		default:
			return fmt.Errorf("insert: %w", err)
		}
	}
	return nil
}

// done marks the events at idx inserted, with their results.
func (b *batch[E]) done(idx []int) {
	for _, i := range idx {
		b.state[i] = inserted
		b.res[i] = Result[E]{Event: b.s.Codec.Stamp(b.events[i], &b.rows[i])}
	}
}

// insertRows inserts rows with one statement.
func (b *batch[E]) insertRows(ctx context.Context, rows []*Row) error {
	x, err := b.st.multi(ctx, b.st.insertN, len(rows), sqlInsert, sqlInsertMore, "")
	if err != nil {
		return b.s.Dialect.Classify(err)
	}
	args := make([]any, 0, 22*len(rows))
	for _, r := range rows {
		args = append(args, r.insertArgs()...)
	}
	_, err = x.ExecContext(ctx, b.s.Dialect.Args(args)...)
	return b.s.Dialect.Classify(err)
}

// copyDuplicates gives each event whose key came earlier in the batch the
// result of the first one.
func (b *batch[E]) copyDuplicates() {
	for i, j := range b.dupOf {
		b.res[i] = b.res[j]
	}
}

// count keeps the derived tables for the inserted events, in the same
// transaction: on a store that folds the counts in, their rows and a fold
// when one is due (see derive), leaving the writer's cache at the new
// head; on one that does not, their counts too.
func (b *batch[E]) count(ctx context.Context) error {
	t := newTally()
	n := 0
	for i := range b.rows {
		if b.state[i] == inserted {
			t.add(&b.rows[i])
			n++
		}
	}
	if !b.s.Fold {
		if n == 0 {
			return nil
		}
		return t.flush(ctx, b.s.Dialect, b.st)
	}
	fold := b.st.cache.fold
	if n > 0 {
		var err error
		if fold, err = derive(ctx, b.s, b.st, t, b.head); err != nil {
			return err
		}
	} else if !b.st.cache.foldSeen {
		return nil // nothing written, nothing learnt: the cache stays empty
	}
	b.st.cache.done(b.head, b.prev, fold)
	return nil
}
