package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trailkit/audit"
)

// maxAttempts bounds how often one Append runs its transaction (see
// retryable); retryPause is the first pause between attempts, doubled each
// time and drawn between half and all of it.
const (
	maxAttempts = 5
	retryPause  = 5 * time.Millisecond
)

// Append implements audit.Store: one READ COMMITTED transaction on the
// store's append connection that takes the head lock first, runs the
// shared append step (internal/sqlcore), and notifies NotifyChannel with
// the newest Seq as it commits. An append the server rolls back for a
// serialization failure or a deadlock, or that never reached the server,
// is run again, maxAttempts times at most.
func (s *Store) Append(ctx context.Context, events []audit.Event) ([]audit.AppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pause := retryPause
	for attempt := 1; ; attempt++ {
		if s.closed.Load() {
			return nil, opErr("append", audit.ErrClosed)
		}
		res, err := s.appendOnce(ctx, events)
		if err == nil {
			return res, nil
		}
		if attempt == maxAttempts || !retryable(err) {
			return nil, opErr("append", classify(err))
		}
		select {
		case <-time.After(pause/2 + rand.N(pause/2+1)):
		case <-ctx.Done():
			return nil, opErr("append", errors.Join(ctx.Err(), err))
		}
		pause *= 2
	}
}

// appendOnce runs one append transaction on the append connection,
// connecting it first if need be. A connection left in doubt (a failed
// rollback) is given back to the pool, which drops it, and the next append
// takes another.
func (s *Store) appendOnce(ctx context.Context, events []audit.Event) (res []audit.AppendResult, err error) {
	if err := s.connectWriter(ctx); err != nil {
		return nil, err
	}
	w := s.w
	if _, err := w.ExecContext(ctx, `BEGIN ISOLATION LEVEL READ COMMITTED; `+s.lock); err != nil {
		s.abort(ctx)
		return nil, fmt.Errorf("begin: %w", err)
	}
	results, err := s.core.Append(ctx, s.stmts, events)
	if err == nil {
		// The notification and the commit go in one round trip.
		end := `COMMIT`
		if seq := newest(results); seq > 0 {
			end = `SELECT pg_notify('` + NotifyChannel + `', '` + strconv.FormatInt(seq, 10) + `'); COMMIT`
		}
		if _, cerr := w.ExecContext(ctx, end); cerr != nil {
			err = fmt.Errorf("commit: %w", cerr)
		}
	}
	if err != nil {
		s.abort(ctx)
		return nil, err
	}
	return appendResults(results), nil
}

// connectWriter takes the append connection from the pool and prepares the
// write statements on it, unless it has them.
func (s *Store) connectWriter(ctx context.Context) error {
	if s.w != nil {
		return nil
	}
	w, err := s.db.Connx(ctx)
	if err != nil {
		return err
	}
	st, err := s.core.Prepare(ctx, w)
	if err != nil {
		_ = w.Close()
		return err
	}
	s.w, s.stmts = w, st
	return nil
}

// abort rolls the append transaction back; when that fails the connection
// is dropped.
func (s *Store) abort(ctx context.Context) {
	if _, err := s.w.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`); err != nil {
		_ = s.dropWriter()
	}
}

// dropWriter gives the append connection back to the pool (which closes a
// connection left inside a transaction, or broken).
func (s *Store) dropWriter() error {
	if s.w == nil {
		return nil
	}
	err := errors.Join(s.stmts.Close(), s.w.Close())
	s.w, s.stmts = nil, nil
	return err
}

// AppendTx implements audit.TxStore: Append inside the caller's
// transaction tx, which must be READ COMMITTED (PostgreSQL's default) and
// on the store's database. It takes the head lock in tx and tx holds it
// until it commits or rolls back: every other append, from every process,
// waits meanwhile. Call Logger.TrackTx last, just before Commit. The
// notification goes out when tx commits, and not at all when it rolls back.
// As the lock is taken inside the caller's transaction, among the caller's
// own locks, a deadlock with them is the caller's to avoid (and to retry).
func (s *Store) AppendTx(ctx context.Context, tx *sqlx.Tx, events []audit.Event) ([]audit.AppendResult, error) {
	if s.closed.Load() {
		return nil, opErr("append in transaction", audit.ErrClosed)
	}
	var isolation string
	if err := tx.QueryRowxContext(ctx, `SELECT current_setting('transaction_isolation') FROM (`+s.lock+`) locked`).Scan(&isolation); err != nil {
		return nil, opErr("append in transaction", classify(err))
	}
	if isolation != "read committed" {
		return nil, opErr("append in transaction", fmt.Errorf("%w: the transaction is %s, not read committed: its snapshot predates the head lock", audit.ErrUnsupported, isolation))
	}
	st, err := s.core.Prepare(ctx, tx)
	if err != nil {
		return nil, opErr("append in transaction", classify(err))
	}
	defer st.Close()
	results, err := s.core.Append(ctx, st, events)
	if err != nil {
		return nil, opErr("append in transaction", classify(err))
	}
	if seq := newest(results); seq > 0 {
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, strconv.FormatInt(seq, 10)); err != nil {
			return nil, opErr("append in transaction", classify(err))
		}
	}
	return appendResults(results), nil
}
