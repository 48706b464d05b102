package audit

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Options come in one style: functions passed to Open, New or OpenSQLite
// (Option) and to Track (TrackOption). An option out of its range, options
// that contradict each other, and an option given where it has no effect
// (a SQLite setting to New, a Logger setting to OpenSQLite) make the
// constructor return an error wrapping ErrInvalidOption; none is dropped
// quietly.

// Option configures a Logger made by Open or New, or the SQLite store made
// by Open or OpenSQLite.
type Option func(*options) error

// optionScope says what an option configures.
type optionScope uint8

const (
	scopeLogger optionScope = 1 << iota // the Logger (Open, New)
	scopeSQLite                         // the SQLite store (Open, OpenSQLite)
	// scopeWrite marks an option that configures writing only: refused
	// together with WithReadOnly, where it could have no effect.
	scopeWrite
)

type options struct {
	sqlite       sqliteOptions
	maxBatch     int
	maxMetadata  int
	maxEvent     int
	writeTimeout time.Duration
	tailPoll     time.Duration
	redactKeys   []string
	bus          *Bus
	workers      int
	retryFirst   time.Duration
	retryLimit   time.Duration
	errorHandler func(*Message, error)
	readOnly     bool

	dbPath        string
	checkpointKey ed25519.PrivateKey
	checkpointPub ed25519.PublicKey
	cpFile        string
	cpEvery       int64
	cpInterval    time.Duration
	cpEnabled     bool

	// set holds, for every option given, the option's name and what it
	// configures, to refuse one given where it has no effect.
	set []setOption
}

type setOption struct {
	name  string
	scope optionScope
}

// sqliteOptions configure the SQLite store.
type sqliteOptions struct {
	durability  Durability
	busyTimeout time.Duration
	readers     int
	maxBytes    int64
	readOnly    bool
}

// Defaults.
const (
	// DefaultMaxBatch is how many queued events one transaction commits at
	// most, unless WithMaxBatch says otherwise.
	DefaultMaxBatch = 512
	// DefaultMaxMetadataBytes caps the encoded metadata of one event.
	DefaultMaxMetadataBytes = 64 << 10
	// DefaultMaxEventBytes caps one whole encoded event (see
	// WithMaxEventBytes).
	DefaultMaxEventBytes = 256 << 10
	// DefaultListenerWorkers is how many messages a Listener records at once.
	DefaultListenerWorkers = 64
	// DefaultBusyTimeout is how long a SQLite connection waits for a lock.
	DefaultBusyTimeout = 10 * time.Second
)

// buildOptions applies opts to the defaults and checks them: each on its
// own, then against each other, then against scope, what the caller
// configures.
func buildOptions(scope optionScope, opts []Option) (options, error) {
	o := options{
		maxBatch:    DefaultMaxBatch,
		maxMetadata: DefaultMaxMetadataBytes,
		maxEvent:    DefaultMaxEventBytes,
		redactKeys:  DefaultRedactKeys,
		workers:     DefaultListenerWorkers,
		tailPoll:    DefaultTailPoll,
		retryFirst:  DefaultRetryBackoff,
		retryLimit:  DefaultRetryBackoffLimit,
		sqlite:      sqliteOptions{busyTimeout: DefaultBusyTimeout},
	}
	for _, f := range opts {
		if f == nil {
			continue
		}
		if err := f(&o); err != nil {
			return options{}, err
		}
	}
	for _, s := range o.set {
		if s.scope&scope == 0 {
			where := "Open and New"
			if s.scope&^scopeWrite == scopeSQLite {
				where = "Open and OpenSQLite"
			}
			return options{}, fmt.Errorf("%w: %s applies to %s only", ErrInvalidOption, s.name, where)
		}
		if o.readOnly && s.scope&scopeWrite != 0 {
			return options{}, fmt.Errorf("%w: %s configures writing, and WithReadOnly opens the log for reading only", ErrInvalidOption, s.name)
		}
	}
	if o.maxMetadata > o.maxEvent {
		return options{}, fmt.Errorf("%w: the metadata cap (%d bytes) is larger than the event cap (%d bytes)", ErrInvalidOption, o.maxMetadata, o.maxEvent)
	}
	if o.checkpointKey != nil && o.checkpointPub != nil && !o.checkpointPub.Equal(o.checkpointKey.Public()) {
		return options{}, fmt.Errorf("%w: WithCheckpointPublicKey is not the public key of WithCheckpointKey", ErrInvalidOption)
	}
	if o.checkpointKey != nil && o.checkpointPub == nil {
		o.checkpointPub = o.checkpointKey.Public().(ed25519.PublicKey)
	}
	if o.retryLimit < o.retryFirst {
		return options{}, fmt.Errorf("%w: WithRetryBackoff: the limit %v is below the first wait %v", ErrInvalidOption, o.retryLimit, o.retryFirst)
	}
	o.redactKeys = normalizeKeys(o.redactKeys)
	if o.errorHandler == nil {
		o.errorHandler = func(m *Message, err error) {
			if errors.Is(err, ErrRecovered) {
				slog.Info("audit listener", "msg", err)
				return
			}
			if m != nil {
				slog.Error("audit listener", "topic", m.Topic, "message", m.ID, "err", err)
				return
			}
			slog.Error("audit", "err", err)
		}
	}
	return o, nil
}

// option makes an Option named name for scope that runs set.
func option(name string, scope optionScope, set func(*options) error) Option {
	return func(o *options) error {
		if err := set(o); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidOption, name, err)
		}
		o.set = append(o.set, setOption{name, scope})
		return nil
	}
}

func positive[T int | int64 | time.Duration](v T) error {
	if v <= 0 {
		return fmt.Errorf("%v is not positive", v)
	}
	return nil
}

// WithReadOnly opens the log for reading only: to look at, tail, export,
// verify, checkpoint or back up a log that an application writes, even
// while it writes. With Open and OpenSQLite, the file must exist already
// (an error wrapping fs.ErrNotExist otherwise; nothing is created), and
// the store neither migrates it nor writes to it: there is no writer
// connection, only read-only ones (SQLite's mode=ro). It refuses a schema
// that it does not read exactly:
//
//   - one newer than this version of the package knows, written by a
//     newer release (ErrSchemaTooNew): use that release to read it;
//   - one older, not yet migrated by this release, or a database with
//     no audit tables at all (ErrSchemaNotMigrated): the queries of this
//     release need the newer tables, so it does not guess at what an old
//     file holds. Open it once without WithReadOnly, with this release, to
//     migrate it (an application of this release does so as it starts).
//
// Track, Record, TrackTx, RecordTx and Listen on a read-only logger, or on
// any of its views, fail with an error wrapping ErrReadOnly and write
// nothing; Append on a read-only store does the same. Reads, All, Tail
// (which sees other processes' events within WithTailPoll), Export,
// Verify, Checkpoint (signed with WithCheckpointKey) and Backup work as
// usual. Options that configure writing only (WithDurability,
// WithMaxBytes, WithMaxBatch, WithMaxMetadataBytes, WithMaxEventBytes,
// WithWriteTimeout, WithRedactKeys, WithCheckpointFile,
// WithListenerWorkers, WithRetryBackoff) are refused with ErrInvalidOption,
// so no checkpoint file is ever written. With New, WithReadOnly makes the
// Logger refuse writes, whatever its store.
//
// What SQLite needs to read a file (the database file itself is never
// written):
//
//   - A log that Open wrote is in WAL mode. To read a WAL database,
//     SQLite uses its -shm file (the index of the -wal) as shared memory:
//     if the -wal and -shm files are missing, as after the last writer
//     closed, SQLite creates them beside the database, empty, and leaves
//     them there. They hold nothing the database did not, and a writer
//     that opens the file later uses them.
//   - Without write access to the directory and with no -shm file there
//     (no application has the log open), SQLite cannot read a WAL
//     database: Open fails with SQLite's "attempt to write a readonly
//     database". Read it as a user who may write the directory, or while
//     the application has it open (its -shm then exists; reading it needs
//     no write access to it).
//   - A file in another journal mode (one an application made with
//     NewSQLiteStore in its own database, say) is read as it is: a
//     read-only opening never switches it to WAL. Its readers and its
//     writer then wait for each other (up to WithBusyTimeout) rather than
//     run side by side.
//   - The schema is checked once, when the log is opened: a writer of a
//     newer release that migrates the file meanwhile is not noticed.
func WithReadOnly() Option {
	return option("WithReadOnly", scopeLogger|scopeSQLite, func(o *options) error {
		o.readOnly, o.sqlite.readOnly = true, true
		return nil
	})
}

// WithDurability sets what a commit of the SQLite store survives (default
// DurabilityNormal: every acknowledged event survives a process crash;
// DurabilityFull: also a power loss).
func WithDurability(d Durability) Option {
	return option("WithDurability", scopeSQLite|scopeWrite, func(o *options) error {
		if d != DurabilityNormal && d != DurabilityFull {
			return fmt.Errorf("unknown durability %d", d)
		}
		o.sqlite.durability = d
		return nil
	})
}

// WithBusyTimeout sets how long a SQLite connection waits for a lock held
// by another connection or process (default DefaultBusyTimeout, 10s).
func WithBusyTimeout(d time.Duration) Option {
	return option("WithBusyTimeout", scopeSQLite, func(o *options) error {
		if err := positive(d); err != nil {
			return err
		}
		o.sqlite.busyTimeout = d
		return nil
	})
}

// WithReaders sets the size of the SQLite store's pool of read-only
// connections (default: the number of CPUs, at least 4).
func WithReaders(n int) Option {
	return option("WithReaders", scopeSQLite, func(o *options) error {
		if err := positive(n); err != nil {
			return err
		}
		o.sqlite.readers = n
		return nil
	})
}

// WithMaxBytes caps the size of the SQLite database file (default: no cap
// beyond the disk's). A write that would grow it past the cap fails with
// ErrDiskFull and stores nothing, exactly as a full disk does. See also
// SQLiteStore.SetMaxBytes.
func WithMaxBytes(n int64) Option {
	return option("WithMaxBytes", scopeSQLite|scopeWrite, func(o *options) error {
		if err := positive(n); err != nil {
			return err
		}
		o.sqlite.maxBytes = n
		return nil
	})
}

// WithMaxBatch caps how many queued events one transaction commits
// (default DefaultMaxBatch, 512).
func WithMaxBatch(n int) Option {
	return option("WithMaxBatch", scopeLogger|scopeWrite, func(o *options) error {
		if err := positive(n); err != nil {
			return err
		}
		o.maxBatch = n
		return nil
	})
}

// WithMaxMetadataBytes caps the JSON-encoded size of an event's metadata
// (default DefaultMaxMetadataBytes, 64 KiB; at most the event cap). Larger
// metadata is rejected with ErrInvalidEvent, with work in proportion to the
// cap, not to the metadata. Metadata may nest at most MaxMetadataDepth
// levels.
func WithMaxMetadataBytes(n int) Option {
	return option("WithMaxMetadataBytes", scopeLogger|scopeWrite, func(o *options) error {
		if err := positive(n); err != nil {
			return err
		}
		o.maxMetadata = n
		return nil
	})
}

// WithMaxEventBytes caps the size of one whole event as it is encoded and
// hashed: every field, the targets and the metadata (default
// DefaultMaxEventBytes, 256 KiB; at least the metadata cap). A larger event
// is refused with ErrInvalidEvent, with work in proportion to the cap, not
// to the event.
func WithMaxEventBytes(n int) Option {
	return option("WithMaxEventBytes", scopeLogger|scopeWrite, func(o *options) error {
		if err := positive(n); err != nil {
			return err
		}
		o.maxEvent = n
		return nil
	})
}

// WithWriteTimeout bounds how long Track and Record wait for their event's
// transaction to start (default: no bound; a write then waits for its turn
// however long the writer is held up, for example by another process's
// transaction on the same file, up to the busy timeout per attempt). An
// event still waiting after d is withdrawn and the call fails with
// ErrWriteTimeout; one whose transaction has started is waited for, so the
// answer is always the truth. The caller's context never withdraws an
// event (see Logger.Record).
func WithWriteTimeout(d time.Duration) Option {
	return option("WithWriteTimeout", scopeLogger|scopeWrite, func(o *options) error {
		if err := positive(d); err != nil {
			return err
		}
		o.writeTimeout = d
		return nil
	})
}

// WithTailPoll sets how often Tail looks for events written by another
// process on the same database (default DefaultTailPoll, 250 ms): the most
// such an event waits before a tail yields it. Events of this process wake
// tails at once, and so do other processes' on a store that is a Notifier
// (the poll is then a fallback).
func WithTailPoll(d time.Duration) Option {
	return option("WithTailPoll", scopeLogger, func(o *options) error {
		if err := positive(d); err != nil {
			return err
		}
		o.tailPoll = d
		return nil
	})
}

// WithRedactKeys replaces the list of secrets redacted from metadata
// (default DefaultRedactKeys); no keys turns redaction off. Redaction
// happens before the event is encoded, hashed or written, at any depth of
// objects and arrays, and to struct fields by their JSON names.
//
// An entry is compared by its letters and digits, lower-cased: "API-Key",
// "api_key" and "apikey" are one entry. A metadata key is split into
// words at every character that is not a letter or digit ("_", "-", ".",
// " ", ...), between a lower-case and an upper-case letter ("apiKey"),
// before the last capital of a run followed by a lower-case letter
// ("XAPIKey" is "xapi", "key") and between letters and digits ("pw2").
// The key names a secret when
//
//   - one of its words, or several consecutive words joined, is an entry,
//     or an entry followed by "s" ("pw", "Api-Key", "credentials"); or
//   - such a word or run ends with an entry of five letters or more
//     ("newpassword", "accessToken", "PHPSESSID" for "sessid").
//
// So "auth" redacts "auth" and "X-Auth" but not "author" or "oauth", and
// "token" redacts "id_token" but not "tokenizer". The value of such a key
// is replaced by Redacted unless it is true, false or null, which hold no
// secret, or a number under a key that names a count: its last word is
// count, total, used, remaining, max, min, limit, length, size, ttl,
// duration, timeout or attempts, or the word that names the secret is a
// plural. "tokens_used": 1200, "session_count": 3 and "prompt_tokens": 12
// are kept; "pin": 1234 and "tokens_used": "1200" are not.
//
// Inside every other string value, the password of a URL
// (scheme://user:password@host) or of a Go MySQL DSN
// (user:password@tcp(host)/db) is replaced by Redacted, and so is the value
// of a name=value pair whose name names a secret ("password=x" in a
// libpq or ADO.NET connection string or a query string). A value ends at
// ";", "&" or a line break, and at white space unless a ";" follows on its
// line.
func WithRedactKeys(keys ...string) Option {
	return option("WithRedactKeys", scopeLogger|scopeWrite, func(o *options) error {
		o.redactKeys = append([]string{}, keys...)
		return nil
	})
}

// WithCheckpointKey signs checkpoints (Logger.Checkpoint and the
// checkpoint file) with key, and makes Verify trust only checkpoints signed
// by it, as WithCheckpointPublicKey does.
func WithCheckpointKey(key ed25519.PrivateKey) Option {
	return option("WithCheckpointKey", scopeLogger, func(o *options) error {
		if len(key) != ed25519.PrivateKeySize {
			return fmt.Errorf("a %d-byte key, not an Ed25519 private key", len(key))
		}
		o.checkpointKey = key
		return nil
	})
}

// WithCheckpointPublicKey makes Verify trust only checkpoints signed by
// the private key of pub: a signed checkpoint that does not verify against
// pub, and an unsigned one, are refused with ErrInvalidCheckpoint. A
// verifier needs only this public key, never the private one. (Without it,
// and without WithCheckpointKey, a signed checkpoint is checked against the
// key it names itself, which proves only that its text was not altered.)
func WithCheckpointPublicKey(pub ed25519.PublicKey) Option {
	return option("WithCheckpointPublicKey", scopeLogger, func(o *options) error {
		if len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("a %d-byte key, not an Ed25519 public key", len(pub))
		}
		o.checkpointPub = pub
		return nil
	})
}

// WithCheckpointFile appends a checkpoint line to path after every
// `every` events or `interval` time, whichever comes first (zero turns
// either off), and once more on Close. With Open, an empty path means the
// database path with ".checkpoints" appended. Copy the file somewhere the
// database's writers cannot reach; read it with ReadCheckpoints.
func WithCheckpointFile(path string, every int64, interval time.Duration) Option {
	return option("WithCheckpointFile", scopeLogger|scopeWrite, func(o *options) error {
		if every < 0 || interval < 0 {
			return fmt.Errorf("every %d and interval %v may not be negative", every, interval)
		}
		o.cpFile, o.cpEvery, o.cpInterval, o.cpEnabled = path, every, interval, true
		return nil
	})
}

// WithBus publishes the logger's own lifecycle events (LifecycleTopic) on
// bus.
func WithBus(b *Bus) Option {
	return option("WithBus", scopeLogger, func(o *options) error {
		if b == nil {
			return errors.New("nil bus")
		}
		o.bus = b
		return nil
	})
}

// WithListenerWorkers sets how many messages a Listener records at once
// (default DefaultListenerWorkers, 64). More in flight means larger shared
// transactions.
func WithListenerWorkers(n int) Option {
	return option("WithListenerWorkers", scopeLogger|scopeWrite, func(o *options) error {
		if err := positive(n); err != nil {
			return err
		}
		o.workers = n
		return nil
	})
}

// Default back-off of a Listener's retries: see WithRetryBackoff.
const (
	DefaultRetryBackoff      = 100 * time.Millisecond
	DefaultRetryBackoffLimit = 5 * time.Second
)

// WithRetryBackoff sets how long a Listener waits between attempts to
// record a message whose write failed for a reason that may pass (a full
// disk, a store that is busy or timed out): first after the first failure,
// twice as long after each further one, up to limit (defaults
// DefaultRetryBackoff and DefaultRetryBackoffLimit; both must be positive,
// and limit at least first). Each wait is drawn at random between half of
// that and all of it (jitter), so that messages that failed together do
// not all try again at once.
//
// The listener retries a message in place, holding it, until it is
// recorded or the listener closes (then it is Nack'ed for redelivery); a
// bus never sees a storm of redeliveries. When a message that had failed
// is recorded, the others that wait try again at once.
func WithRetryBackoff(first, limit time.Duration) Option {
	return option("WithRetryBackoff", scopeLogger|scopeWrite, func(o *options) error {
		if err := errors.Join(positive(first), positive(limit)); err != nil {
			return err
		}
		o.retryFirst, o.retryLimit = first, limit
		return nil
	})
}

// WithErrorHandler sets the function told about errors nobody else sees: a
// listener message that can never be recorded (it is acknowledged after
// the handler returns, so that it is not redelivered forever), a stretch
// of a listener's failed writes (once when it starts, with the first
// message that failed and an error wrapping ErrRetrying and the cause,
// and once when it ends, with a nil message and an error wrapping
// ErrRecovered), or a lifecycle event that could not be published. The
// default logs with log/slog: recoveries at level Info, the rest at
// Error. m is nil for errors not about a message. The handler is called
// from the listener's goroutines, possibly at once from several: it must
// be safe for concurrent use.
func WithErrorHandler(h func(m *Message, err error)) Option {
	return option("WithErrorHandler", scopeLogger, func(o *options) error {
		if h == nil {
			return errors.New("nil handler")
		}
		o.errorHandler = h
		return nil
	})
}

// TrackOption sets optional fields of an event written by Track.
type TrackOption func(*Event) error

// WithTargets adds further subjects of the action; each is read as Track
// reads actor and resource.
func WithTargets(targets ...any) TrackOption {
	return func(e *Event) error {
		for _, t := range targets {
			r, err := RefOf(t)
			if err != nil {
				return inField(fmt.Sprintf("targets[%d]", len(e.Targets)), err)
			}
			e.Targets = append(e.Targets, r)
		}
		return nil
	}
}

// WithOutcome sets the outcome: OutcomeSuccess or OutcomeFailure.
func WithOutcome(outcome string) TrackOption {
	return func(e *Event) error { e.Outcome = outcome; return nil }
}

// Failed marks the event as a failed attempt (OutcomeFailure).
func Failed() TrackOption { return WithOutcome(OutcomeFailure) }

// WithMetadata merges m into the event's metadata.
func WithMetadata(m map[string]any) TrackOption {
	return func(e *Event) error {
		for k, v := range m {
			setMeta(e, k, v)
		}
		return nil
	}
}

// WithMeta sets one metadata key.
func WithMeta(key string, value any) TrackOption {
	return func(e *Event) error { setMeta(e, key, value); return nil }
}

func setMeta(e *Event, k string, v any) {
	if e.Metadata == nil {
		e.Metadata = make(map[string]any)
	}
	e.Metadata[k] = v
}

// WithIdempotencyKey sets the idempotency key: a repeat within the tenant
// returns the first event and writes nothing.
func WithIdempotencyKey(key string) TrackOption {
	return func(e *Event) error { e.IdempotencyKey = key; return nil }
}

// At sets when the event occurred (default: now).
func At(t time.Time) TrackOption {
	return func(e *Event) error { e.OccurredAt = t; return nil }
}
