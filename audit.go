package audit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// Errors returned by this package. Errors are wrapped with context; test for
// them with errors.Is.
var (
	// ErrNotFound is returned by Get when no event with the id exists among
	// those the logger's view sees (its tenant, or every tenant on the
	// AllTenants view).
	ErrNotFound = errors.New("audit: not found")
	// ErrInvalidEvent is returned when an event cannot be recorded as given:
	// an empty, over-long or malformed action, invalid UTF-8, metadata that
	// cannot be encoded or is too large, an unknown outcome. Nothing is
	// written.
	ErrInvalidEvent = errors.New("audit: invalid event")
	// ErrUnsupportedSubject is returned (together with ErrInvalidEvent) when
	// an actor, resource or target cannot be turned into a Ref: see RefOf.
	ErrUnsupportedSubject = errors.New("audit: unsupported subject type")
	// ErrNilSubject is returned (together with ErrInvalidEvent) when an
	// actor, resource or target is a nil pointer, such as a (*User)(nil)
	// for a user who is not logged in: only an untyped nil is the system.
	ErrNilSubject = errors.New("audit: nil subject")
	// ErrInvalidQuery is returned for a Query with out-of-range or malformed
	// fields.
	ErrInvalidQuery = errors.New("audit: invalid query")
	// ErrInvalidCursor is returned for a Query.After that is malformed or
	// was made by Page.Next for another query, tenant or view. (A cursor is
	// not secret: one built by hand only moves the position within the
	// caller's own view and query.)
	ErrInvalidCursor = errors.New("audit: invalid cursor")
	// ErrClosed is returned by writes and reads after Close.
	ErrClosed = errors.New("audit: logger closed")
	// ErrNoDefault is returned by the package-level functions when no default
	// logger has been set with SetDefault.
	ErrNoDefault = errors.New("audit: no default logger")
	// ErrUnsupported is returned when the Store does not provide an optional
	// capability, such as writing inside a caller's transaction.
	ErrUnsupported = errors.New("audit: not supported by this store")
	// ErrBusFull is returned by Bus.Publish when a message cannot be queued
	// because no subscription matches its topic and the backlog is full.
	ErrBusFull = errors.New("audit: bus backlog full")
	// ErrAllTopicsUnsupported is returned by Listen when it is to listen on
	// every topic (no topics given, or AllTopics among them) and the
	// Subscriber cannot mean that: see AllTopicsSubscriber.
	ErrAllTopicsUnsupported = errors.New("audit: subscriber cannot subscribe to all topics")
	// ErrRetrying is wrapped, together with the cause, by what a Listener
	// tells the error handler when a write fails for a reason that may
	// pass (a full disk, say): the listener keeps the message and tries
	// again, backing off (see WithRetryBackoff). It says so once for a
	// stretch of failures, not once per attempt.
	ErrRetrying = errors.New("audit: listener retrying failed writes")
	// ErrRecovered is wrapped by what a Listener tells the error handler
	// when its writes succeed again after a stretch of failures (see
	// ErrRetrying): good news, told through the error handler so that it
	// lands where the failure did.
	ErrRecovered = errors.New("audit: listener writes recovered")
	// ErrDiskFull wraps write errors caused by a full disk or database. The
	// failed write stored nothing; writing works again once there is room.
	ErrDiskFull = errors.New("audit: database or disk is full")
	// ErrWriteTimeout is returned by Track and Record when, with
	// WithWriteTimeout, an event waited longer than the timeout for its
	// transaction. It was not recorded.
	ErrWriteTimeout = errors.New("audit: write timed out")
	// ErrInvalidOption is returned by Open, New and OpenSQLite for an
	// option out of range, options that contradict each other, or an
	// option that does not apply to the constructor given it.
	ErrInvalidOption = errors.New("audit: invalid option")
	// ErrUnverifiableExport is returned by VerifyExport for an export that
	// cannot be checked link by link: a filtered one, or one that is not
	// a JSONL export of this package.
	ErrUnverifiableExport = errors.New("audit: export cannot be verified")
	// ErrInvalidCheckpoint is returned for a checkpoint that cannot be
	// parsed or whose signature does not verify.
	ErrInvalidCheckpoint = errors.New("audit: invalid checkpoint")
	// ErrOutOfScope is returned when a view of the log is asked for more
	// than it may do: by every call on the view that WithTenant returns on
	// a view of another tenant (or AllTenants on a tenant's view), and by
	// Close and the Store of any view but the root logger. A view never
	// widens itself.
	ErrOutOfScope = errors.New("audit: out of the view's scope")
	// ErrReadOnly is returned by Track, Record, TrackTx, RecordTx and
	// Listen on a logger opened WithReadOnly, through any of its views,
	// and by Append on a store opened so. Nothing is written.
	ErrReadOnly = errors.New("audit: log opened read-only")
	// ErrSchemaTooNew is returned by Open, OpenSQLite and NewSQLiteStore
	// (read-only or not) for a database whose schema a newer release of
	// this package migrated: this release cannot tell what it holds, nor
	// keep its tables as that release does. Use that release.
	ErrSchemaTooNew = errors.New("audit: schema newer than this release knows")
	// ErrSchemaNotMigrated is returned by Open and OpenSQLite WithReadOnly
	// for a database that holds no audit tables, or whose schema this
	// release has not migrated yet: opening it once without WithReadOnly
	// migrates it. See WithReadOnly.
	ErrSchemaNotMigrated = errors.New("audit: schema not migrated")
)

// Outcomes of an event.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Ref names an actor, a resource or a target. The zero Ref is the system.
type Ref struct {
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// IsZero reports whether r is the zero Ref (the system).
func (r Ref) IsZero() bool { return r == Ref{} }

// Event is one entry of the audit log.
type Event struct {
	// ID is opaque, unique and URL-safe; assigned on write.
	ID string `json:"id"`
	// Seq is the gapless position of the event in the log (1, 2, 3, ...),
	// assigned on write.
	Seq int64 `json:"seq"`
	// Tenant is the organization or workspace the event belongs to; "" is
	// the default tenant.
	Tenant string `json:"tenant,omitempty"`
	// Action says what happened, such as "project.deleted": valid UTF-8, 1
	// to 256 bytes, no control characters.
	Action string `json:"action"`
	// Actor did it; the zero Ref is the system.
	Actor Ref `json:"actor"`
	// Resource is what it was done to.
	Resource Ref `json:"resource"`
	// Targets are further subjects of the action.
	Targets []Ref `json:"targets,omitempty"`
	// Outcome is OutcomeSuccess (the default) or OutcomeFailure.
	Outcome string `json:"outcome"`
	// Metadata is any JSON-encodable detail. The values of keys that name
	// secrets, and passwords inside strings, are redacted before they are
	// stored (see WithRedactKeys). Read back, it holds what
	// encoding/json decodes, with numbers as json.Number so that none lose
	// precision.
	Metadata map[string]any `json:"metadata,omitempty"`
	// IdempotencyKey, when set, makes a repeat within the tenant return the
	// first event and write nothing.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// OccurredAt is when it happened; defaults to now. Stored with
	// nanosecond precision in UTC.
	OccurredAt time.Time `json:"occurred_at"`
	// RecordedAt is when it was committed; set on write.
	RecordedAt time.Time `json:"recorded_at"`
	// Origin is the request the event came from; Track and Record take it
	// from the context (ContextWithOrigin) when it is zero. Its fields
	// are cleaned and cut to their limits, never refused.
	Origin Origin `json:"origin,omitzero"`
	// ChainVersion is the version of the canonical encoding that Hash
	// covers (see Canonical): set on write and on read, ignored by Record.
	ChainVersion int `json:"chain_version,omitempty"`
	// PrevHash and Hash chain the event to the one before it (see Verify).
	PrevHash []byte `json:"prev_hash,omitempty"`
	Hash     []byte `json:"hash,omitempty"`
}

// Logger records and reads audit events. It is safe for concurrent use.
//
// The Logger that Open or New returns is the root logger: it reads the
// default tenant "", records events into the tenant they name, and alone
// may Close the log, reach its Store and make the AllTenants view. The
// other Loggers are views of the same log, made by WithTenant (one tenant)
// and AllTenants (every tenant), and are capabilities: a view can never be
// turned into a wider one (see ErrOutOfScope).
type Logger struct {
	c      *core
	tenant string
	view   viewKind
	denied error // why every call fails, on a denied view
}

// core is what every tenant view of one log shares.
type core struct {
	store Store
	opts  options

	// Group commit (see submit): callers queue requests; one of them at a
	// time leads, committing what is queued in one transaction.
	mu        sync.Mutex // guards queue, leading and closed
	idle      sync.Cond  // signalled when leading turns false
	queue     []*writeRequest
	leading   bool
	lastBatch int // events of recent batches: the last one's, or one less than before
	closed    bool
	closeOnce sync.Once
	closeErr  error
	stopTick  chan struct{} // ends the checkpoint ticker
	ticking   sync.WaitGroup

	listenMu        sync.Mutex
	listeners       map[*Listener]struct{}
	listenersClosed bool // set by Logger.Close: no new listeners

	checkpoints *checkpointer // nil without WithCheckpointFile

	commits commitSignal // wakes tails after each commit of this process
	watch   tailWatch    // wakes them after other processes' commits, on a Notifier
}

type writeRequest struct {
	ev   Event
	done chan commitResult
}

// commitResult is what a queued caller is told: its result, or that it
// leads now.
type commitResult struct {
	AppendResult
	lead bool
}

// Open opens the audit log in the SQLite file at path, creating and
// migrating it as needed, and returns a Logger for the default tenant. The
// file is opened in WAL mode with one writer connection and a pool of
// read-only connections. It takes every Option; those of the SQLite store
// (WithDurability, WithBusyTimeout, WithReaders, WithMaxBytes) configure
// the file. An option out of range or in conflict with another is an error
// wrapping ErrInvalidOption. With WithReadOnly, Open reads an existing log
// without migrating or writing it, even while another process writes it.
func Open(ctx context.Context, path string, opts ...Option) (*Logger, error) {
	o, err := buildOptions(scopeLogger|scopeSQLite, opts)
	if err != nil {
		return nil, err
	}
	o.dbPath = path
	store, err := openSQLiteRetrying(ctx, path, o.sqlite)
	if err != nil {
		return nil, err
	}
	l, err := newLogger(store, o)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	l.lifecycle(ctx, "audit.opened", l.c.readOnlyMeta())
	if m := store.Migrated(); len(m) > 0 {
		l.lifecycle(ctx, "audit.migrated", map[string]any{"versions": m})
	}
	return l, nil
}

// New returns a Logger for the default tenant that records into store. The
// Logger owns the store from then on: Close closes it. The options of the
// SQLite store are refused (ErrInvalidOption): give them to OpenSQLite.
func New(store Store, opts ...Option) (*Logger, error) {
	if store == nil {
		return nil, opErr("new", errors.New("nil store"))
	}
	o, err := buildOptions(scopeLogger, opts)
	if err != nil {
		return nil, err
	}
	l, err := newLogger(store, o)
	if err != nil {
		return nil, err
	}
	l.lifecycle(context.Background(), "audit.opened", l.c.readOnlyMeta())
	return l, nil
}

// readOnlyMeta is the metadata of the lifecycle events of a logger opened
// WithReadOnly, which says so; nil otherwise.
func (c *core) readOnlyMeta() map[string]any {
	if !c.opts.readOnly {
		return nil
	}
	return map[string]any{"read_only": true}
}

// refuseWrite returns an error wrapping ErrReadOnly for operation op on a
// logger opened WithReadOnly, and nil on any other.
func (c *core) refuseWrite(op string) error {
	if c.opts.readOnly {
		return opErr(op, ErrReadOnly)
	}
	return nil
}

func newLogger(store Store, o options) (*Logger, error) {
	c := &core{
		store:    store,
		opts:     o,
		stopTick: make(chan struct{}),
	}
	c.idle.L = &c.mu
	if o.cpEnabled {
		path := o.cpFile
		if path == "" {
			if o.dbPath == "" {
				return nil, fmt.Errorf("audit: WithCheckpointFile needs a path with New")
			}
			path = o.dbPath + ".checkpoints"
		}
		c.checkpoints = &checkpointer{path: path, every: o.cpEvery, interval: o.cpInterval, lastTime: time.Now()}
		if o.cpInterval > 0 {
			c.ticking.Go(func() { c.checkpointTicker(o.cpInterval) })
		}
	}
	return &Logger{c: c}, nil
}

// Backup writes a consistent copy of the whole log (every tenant; only the
// root logger makes it, any view gets ErrOutOfScope) to a new
// file at path while writers go on, for the store to open and verify on
// its own: with the SQLite store, a snapshot taken with VACUUM INTO,
// flushed to disk, and put in place only when complete. It refuses a path
// that exists (an error wrapping fs.ErrExist). Copying the database file
// with cp while the log is open misses the events still in its WAL; Backup
// does not. Keep the checkpoint file (WithCheckpointFile) beside the copy.
// The store must implement Backuper (ErrUnsupported otherwise).
func (l *Logger) Backup(ctx context.Context, path string) error {
	if l.view != viewRoot {
		return l.outOfScope("Backup of a view: the copy holds every tenant; only the logger that Open or New returned makes it")
	}
	if l.c.isClosed() {
		return opErr("backup", ErrClosed)
	}
	b, ok := l.c.store.(Backuper)
	if !ok {
		return opErr("backup", ErrUnsupported)
	}
	return b.Backup(ctx, path)
}

// Close publishes audit.closed (with WithBus), closes the log's listeners
// (each records what it was delivered), waits for pending writes to commit,
// stops the writer and closes the store. Writes and reads after Close return
// ErrClosed, through every view. Close is idempotent.
//
// Only the root logger closes the log: Close on a view closes nothing and
// returns an error wrapping ErrOutOfScope.
func (l *Logger) Close() error {
	if l.view != viewRoot {
		return l.outOfScope("Close on a view: only the logger that Open or New returned closes the log")
	}
	c := l.c
	c.closeOnce.Do(func() {
		l.lifecycle(context.Background(), "audit.closed", c.readOnlyMeta())
		c.closeListeners()
		c.mu.Lock()
		c.closed = true
		for c.leading {
			c.idle.Wait()
		}
		c.mu.Unlock()
		close(c.stopTick)
		c.ticking.Wait()
		c.watch.close()
		c.checkpointHead(true)
		c.closeErr = c.store.Close()
	})
	return c.closeErr
}

func (c *core) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Track records that actor did action to resource and returns the event as
// stored, once it is committed.
//
// actor and resource may be an untyped nil (the system), a Ref or *Ref, a
// value with a method AuditRef() Ref, or a struct (or pointer to one) with
// an exported ID field of string or integer kind: it becomes Ref{Type: the
// snake_case type name, ID: the ID in base 10, Name: its string Name field,
// if any}. A nil pointer, such as a (*User)(nil) for a user who is not
// logged in, is refused with an error wrapping ErrNilSubject; anything else
// returns an error wrapping ErrUnsupportedSubject. Both also wrap
// ErrInvalidEvent, and nothing is written. See RefOf. On a logger opened
// WithReadOnly, Track fails with an error wrapping ErrReadOnly.
func (l *Logger) Track(ctx context.Context, actor any, action string, resource any, opts ...TrackOption) (Event, error) {
	if l.denied != nil {
		return Event{}, l.denied
	}
	if err := l.c.refuseWrite("track"); err != nil {
		return Event{}, err
	}
	e, err := buildEvent(actor, action, resource, opts)
	if err != nil {
		return Event{}, err
	}
	return l.Record(ctx, e)
}

// Record records e and returns it as stored, once it is committed. ID, Seq,
// RecordedAt and the hashes are assigned on write; values given for them are
// ignored. On a view of one tenant (WithTenant), e.Tenant must be empty or
// that tenant; the root logger and the AllTenants view record e into
// e.Tenant as given.
//
// Concurrent calls share transactions (group commit, see submit). If e
// carries an IdempotencyKey already used in its tenant, Record returns the
// first event and writes nothing.
//
// An event that passes validation is recorded even when ctx is cancelled or
// ends while it waits: for an audit log, the action happened (a client that
// disconnects after its project was deleted must not erase the record of
// it), and Record reports the real outcome of the write. ctx is used only
// for the values it carries. To bound how long a write may wait for its
// turn, use WithWriteTimeout.
//
// On a logger opened WithReadOnly, Record fails with an error wrapping
// ErrReadOnly and writes nothing.
func (l *Logger) Record(ctx context.Context, e Event) (Event, error) {
	if l.denied != nil {
		return Event{}, l.denied
	}
	if err := l.c.refuseWrite("record"); err != nil {
		return Event{}, err
	}
	e, err := l.prepare(ctx, e)
	if err != nil {
		return Event{}, err
	}
	return l.c.submit(e)
}

// TrackTx is Track inside the caller's transaction: the event is written by
// tx and committed or rolled back with the caller's own work. The store must
// implement TxStore (the SQLite store does) and tx must be on the same
// database. Open the transaction as a write transaction (with SQLite,
// "_txlock=immediate" in the DSN) so that it never has to upgrade.
func (l *Logger) TrackTx(ctx context.Context, tx *sqlx.Tx, actor any, action string, resource any, opts ...TrackOption) (Event, error) {
	if l.denied != nil {
		return Event{}, l.denied
	}
	if err := l.c.refuseWrite("record in transaction"); err != nil {
		return Event{}, err
	}
	e, err := buildEvent(actor, action, resource, opts)
	if err != nil {
		return Event{}, err
	}
	return l.RecordTx(ctx, tx, e)
}

// RecordTx is Record inside the caller's transaction; see TrackTx.
func (l *Logger) RecordTx(ctx context.Context, tx *sqlx.Tx, e Event) (Event, error) {
	if l.denied != nil {
		return Event{}, l.denied
	}
	if err := l.c.refuseWrite("record in transaction"); err != nil {
		return Event{}, err
	}
	ts, ok := l.c.store.(TxStore)
	if !ok {
		return Event{}, opErr("record in transaction", ErrUnsupported)
	}
	if tx == nil {
		return Event{}, fmt.Errorf("audit: record in transaction: nil tx")
	}
	if l.c.isClosed() {
		return Event{}, opErr("record in transaction", ErrClosed)
	}
	e, err := l.prepare(ctx, e)
	if err != nil {
		return Event{}, err
	}
	res, err := ts.AppendTx(ctx, tx, []Event{e})
	if err != nil {
		return Event{}, err
	}
	return res[0].Event, res[0].Err
}

// prepare validates e and fills what the logger assigns before the store.
func (l *Logger) prepare(ctx context.Context, e Event) (Event, error) {
	switch {
	case l.denied != nil:
		return Event{}, l.denied
	case l.view != viewTenant: // root and AllTenants: as given
	case e.Tenant == "" || e.Tenant == l.tenant:
		e.Tenant = l.tenant
	default:
		return Event{}, fmt.Errorf("%w: tenant %q on a logger scoped to tenant %q", ErrInvalidEvent, e.Tenant, l.tenant)
	}
	e.ID, e.Seq, e.RecordedAt, e.PrevHash, e.Hash, e.ChainVersion = newID(), 0, time.Time{}, nil, nil, 0
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now()
	}
	if e.Origin.IsZero() {
		e.Origin, _ = OriginFromContext(ctx)
	}
	e.Origin = e.Origin.clean()
	return l.c.opts.normalize(e)
}

// submit queues e and returns its result once committed.
//
// Group commit: the first caller to find nobody leading becomes the leader.
// A leader takes what is queued (up to the batch limit), appends it in one
// transaction, hands every caller of the batch its result, and passes the
// lead to the oldest caller still queued, or gives it up. A caller alone
// thus commits its own event on its own goroutine, with no hand-off; many
// callers share transactions: while one batch commits, the next queues, so
// the batch size follows the load. (A leader that waited for stragglers
// before committing measured slower: see BENCHMARKS.md.) One thing a new
// leader does before it takes its batch: while fewer events are queued
// than recent batches held, it yields its processor (runtime.Gosched, no
// timed wait; at most 4 times, and not again once a yield brought no new
// event), so that the callers of the last batch, which were just handed
// their results and are runnable, can queue their next events and join
// this batch rather than the one after it. Without it, batches alternated
// between a few events and many under steady load. A caller alone does
// not yield (once the count of recent batches has come down to its one
// event; a yield that brings nothing ends the yielding meanwhile).
//
// With WithWriteTimeout, an event still queued when the timeout passes is
// withdrawn and the caller told that it was not recorded; once its
// transaction has started, the caller waits for the commit and gets its
// outcome.
func (c *core) submit(e Event) (Event, error) {
	req := &writeRequest{ev: e, done: make(chan commitResult, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Event{}, opErr("record", ErrClosed)
	}
	c.queue = append(c.queue, req)
	lead := !c.leading
	c.leading = true
	c.mu.Unlock()
	if lead {
		c.lead()
	}
	var timeout <-chan time.Time
	if d := c.opts.writeTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case r := <-req.done:
			if r.lead {
				c.lead()
				continue
			}
			return r.Event, r.Err
		case <-timeout:
			if c.withdraw(req) {
				return Event{}, fmt.Errorf("%w after %v: the event was not recorded", ErrWriteTimeout, c.opts.writeTimeout)
			}
			timeout = nil // its transaction has started: wait for the outcome
		}
	}
}

// withdraw takes req out of the queue if no batch has taken it yet, and
// reports whether it did. If req had been handed the lead, the lead passes
// on.
func (c *core) withdraw(req *writeRequest) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.queue, req)
	if i < 0 {
		return false
	}
	c.queue = slices.Delete(c.queue, i, i+1)
	select {
	case <-req.done: // a queued request can only have been handed the lead
		c.passLead()
	default:
	}
	return true
}

// passLead hands the lead to the oldest queued request, or gives it up.
// c.mu must be held; the send cannot block, as a queued request's channel
// is empty until it is handed the lead.
func (c *core) passLead() {
	if len(c.queue) > 0 {
		c.queue[0].done <- commitResult{lead: true}
		return
	}
	c.leading = false
	c.idle.Broadcast()
}

// lead commits one batch from the front of the queue and passes the lead
// on. The caller must be the leader.
func (c *core) lead() {
	c.mu.Lock()
	for range 4 {
		if len(c.queue) >= c.lastBatch {
			break
		}
		had := len(c.queue)
		c.mu.Unlock()
		runtime.Gosched()
		c.mu.Lock()
		if len(c.queue) == had {
			break
		}
	}
	n := min(len(c.queue), c.opts.maxBatch)
	c.lastBatch = max(n, c.lastBatch-1)
	batch := make([]*writeRequest, n)
	copy(batch, c.queue)
	c.queue = append(c.queue[:0], c.queue[n:]...)
	c.mu.Unlock()

	events := make([]Event, n)
	for i, r := range batch {
		events[i] = r.ev
	}
	res, err := c.store.Append(context.Background(), events)
	var head int64
	var hash []byte
	for i, r := range batch {
		switch {
		case err != nil:
			r.done <- commitResult{AppendResult: AppendResult{Err: err}}
		case i < len(res):
			r.done <- commitResult{AppendResult: res[i]}
			if res[i].Err == nil && res[i].Event.Seq > head {
				head, hash = res[i].Event.Seq, res[i].Event.Hash
			}
		default:
			r.done <- commitResult{AppendResult: AppendResult{Err: fmt.Errorf("audit: store returned %d results for %d events", len(res), n)}}
		}
	}
	if err == nil && head > 0 {
		c.commits.signal()
		c.checkpointAfter(head, hash, false)
	}

	c.mu.Lock()
	c.passLead()
	c.mu.Unlock()
}

// checkpointTicker writes a checkpoint every interval while the log is open.
func (c *core) checkpointTicker(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.checkpointHead(false)
		case <-c.stopTick:
			return
		}
	}
}

// checkpointHead writes a checkpoint of the store's current head, if one
// is due (or forced).
func (c *core) checkpointHead(force bool) {
	if c.checkpoints == nil {
		return
	}
	seq, hash, err := c.store.Head(context.Background())
	if err != nil {
		c.opts.errorHandler(nil, opErr("checkpoint", err))
		return
	}
	c.checkpointAfter(seq, hash, force)
}

// lifecycle publishes an event about the logger itself on the configured
// bus, if any, so that a listener records it. Failing to publish is reported
// to the error handler; it never fails the caller.
func (l *Logger) lifecycle(ctx context.Context, action string, meta map[string]any) {
	bus := l.c.opts.bus
	if bus == nil {
		return
	}
	e := Event{Action: action, Resource: Ref{Type: "audit_log", ID: l.c.opts.dbPath}, Metadata: meta, OccurredAt: time.Now()}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := bus.Publish(ctx, LifecycleTopic, e); err != nil {
		l.c.opts.errorHandler(nil, opErr(fmt.Sprintf("publish %s", action), err))
	}
}

// LifecycleTopic is the bus topic of the logger's own lifecycle events:
// audit.opened, audit.migrated and audit.closed.
const LifecycleTopic = "audit.lifecycle"

var defaultLogger atomic.Pointer[Logger]

// SetDefault makes l the logger used by the package-level functions.
func SetDefault(l *Logger) { defaultLogger.Store(l) }

// Default returns the logger set by SetDefault, or nil.
func Default() *Logger { return defaultLogger.Load() }

// Track calls Logger.Track on the default logger. It returns ErrNoDefault
// when none is set.
func Track(ctx context.Context, actor any, action string, resource any, opts ...TrackOption) (Event, error) {
	l := Default()
	if l == nil {
		return Event{}, ErrNoDefault
	}
	return l.Track(ctx, actor, action, resource, opts...)
}

// Record calls Logger.Record on the default logger. It returns ErrNoDefault
// when none is set.
func Record(ctx context.Context, e Event) (Event, error) {
	l := Default()
	if l == nil {
		return Event{}, ErrNoDefault
	}
	return l.Record(ctx, e)
}

func buildEvent(actor any, action string, resource any, opts []TrackOption) (Event, error) {
	a, err := RefOf(actor)
	if err != nil {
		return Event{}, inField("actor", err)
	}
	r, err := RefOf(resource)
	if err != nil {
		return Event{}, inField("resource", err)
	}
	e := Event{Action: action, Actor: a, Resource: r}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&e); err != nil {
			return Event{}, err
		}
	}
	return e, nil
}

// opError is the error of one operation of the package. Its text names the
// package once, "audit: <op>: <cause>", whether or not the cause's own text
// starts with "audit: " (as the sentinels' do); errors.Is and errors.As
// see the cause.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	return "audit: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "audit: ")
}

func (e *opError) Unwrap() error { return e.err }

// opErr wraps err as the error of operation op.
func opErr(op string, err error) error { return &opError{op: op, err: err} }
