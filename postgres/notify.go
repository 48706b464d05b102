package postgres

import (
	"context"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/trailkit/audit"
)

// Notifications LISTENs on NotifyChannel on a connection of its own from
// the store's pool and yields 0 once it is listening, then the Seq each
// notification carries: the newest event of a commit, by any process, on
// this database. (After the 0, a read of the log misses no commit that
// will not be notified: read then, and on each Seq.) It runs until ctx
// ends (then it stops without an error) or the caller stops iterating, and
// yields an error once, then stops, when listening fails. Notifications
// that arrive while the caller is busy queue up on the connection; a Seq
// can be older than one already yielded (commits notify in the order they
// finish), so a reader reads on from the highest Seq it has seen. The
// connection is given back to the pool afterwards, listening to nothing.
// It implements audit.Notifier: while a Logger.Tail runs, the Logger
// listens through it, on one connection of the pool.
func (s *Store) Notifications(ctx context.Context) iter.Seq2[int64, error] {
	return func(yield func(int64, error) bool) {
		if s.closed.Load() {
			yield(0, opErr("notifications", audit.ErrClosed))
			return
		}
		conn, err := s.db.Conn(ctx)
		if err != nil {
			if ctx.Err() == nil {
				yield(0, opErr("notifications", s.readErr(err)))
			}
			return
		}
		defer conn.Close()
		var failed error
		_ = conn.Raw(func(dc any) error {
			sc, ok := dc.(*stdlib.Conn)
			if !ok {
				failed = fmt.Errorf("driver connection %T is not pgx's", dc)
				return nil
			}
			pc := sc.Conn()
			if _, err := pc.Exec(ctx, `LISTEN `+NotifyChannel); err != nil {
				failed = err
				return nil
			}
			defer func() {
				if !pc.IsClosed() {
					unlisten, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
					defer cancel()
					_, _ = pc.Exec(unlisten, `UNLISTEN `+NotifyChannel)
				}
			}()
			if !yield(0, nil) {
				return nil
			}
			for {
				n, err := pc.WaitForNotification(ctx)
				if err != nil {
					if ctx.Err() == nil {
						failed = err
					}
					return nil
				}
				if n.Channel != NotifyChannel {
					continue
				}
				seq, err := strconv.ParseInt(n.Payload, 10, 64)
				if err != nil {
					failed = fmt.Errorf("notification %q is not a seq", n.Payload)
					return nil
				}
				if !yield(seq, nil) {
					return nil
				}
			}
		})
		if failed != nil {
			yield(0, opErr("notifications", s.readErr(failed)))
		}
	}
}
