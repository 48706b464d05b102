package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"
)

// VerifyReport is the result of Verify.
type VerifyReport struct {
	// Checked is how many events were checked.
	Checked int64
	// OK is true when the whole chain is intact, extends every checkpoint,
	// and the derived tables agree with it.
	OK bool
	// FirstBad is the Seq of the first event that fails (changed, missing,
	// forged, reordered, not in its stored form), or where a checkpoint is
	// no longer extended; 0 when OK, and 0 when every event is intact but
	// a derived table (totals, catalogue) disagrees with them.
	FirstBad int64
	// Reason says what failed at FirstBad.
	Reason string
}

// verifyChunk is how many events one Verify worker reads at a time. A
// worker holds one row at a time, whatever the rows hold, so Verify's
// memory is a few rows per worker.
const verifyChunk = 2048

// Verify walks the whole hash chain in Seq order, in constant memory, and
// reports the first event that does not belong: a field changed since it
// was written (its value or its storage class), a missing Seq, a forged or
// reordered event, a row not in the one form the library writes (JSON that
// is not canonical, an empty string where NULL belongs, a BLOB where TEXT
// belongs). With checkpoints it also checks that the log still extends each
// of them, which catches the newest events being removed or rewritten. With
// WithCheckpointPublicKey (or WithCheckpointKey), only checkpoints signed by
// that key are accepted; without, a signed checkpoint is checked against the
// key it names itself. A checkpoint refused is an error wrapping
// ErrInvalidCheckpoint. When the events are intact and the store keeps
// derived tables (the SQLite store's totals and typeahead catalogue),
// Verify recounts them from the log, so that a changed counter or a
// deleted catalogue row cannot hide events (FirstBad 0, with the Reason).
//
// The chain is global: Verify checks every tenant's events whichever view
// it is called on. Tampering is reported in the VerifyReport; the error is
// for failing to read. Events written while Verify runs are checked up to
// the head Verify saw first. Chunks of the chain are checked in parallel,
// one per CPU, a bounded number at a time.
func (l *Logger) Verify(ctx context.Context, against ...Checkpoint) (VerifyReport, error) {
	if l.denied != nil {
		return VerifyReport{}, l.denied
	}
	if l.c.isClosed() {
		return VerifyReport{}, opErr("verify", ErrClosed)
	}
	for _, cp := range against {
		if err := cp.verifySignature(l.c.opts.checkpointPub); err != nil {
			return VerifyReport{}, err
		}
	}
	stored, _, err := l.c.store.Head(ctx)
	if err != nil {
		return VerifyReport{}, err
	}
	head := stored
	pins := make(map[int64][]byte, len(against))
	for _, cp := range against {
		head = max(head, cp.Seq) // walk to it, so that a truncation is reported
		if cp.Seq > 0 {
			pins[cp.Seq] = cp.Hash
		}
	}

	// The chain starts at seq 1: a row before it can only be forged.
	var forged *int64
	err = l.c.store.ReadChain(ctx, math.MinInt64, 0, func(ce ChainEntry) error {
		seq, _ := ce.Values[colSeq].(int64)
		forged = &seq
		return errStopChain
	})
	if err != nil && !errors.Is(err, errStopChain) {
		return VerifyReport{}, err
	}
	if forged != nil {
		return VerifyReport{FirstBad: 1, Reason: fmt.Sprintf("forged: a row with seq %d stands before the chain", *forged)}, nil
	}

	rep, err := l.verifyChain(ctx, head, stored, pins, against)
	if err != nil || !rep.OK {
		return rep, err
	}
	if dc, ok := l.c.store.(DerivedChecker); ok {
		problem, err := dc.CheckDerived(ctx)
		if err != nil {
			return VerifyReport{}, err
		}
		if problem != "" {
			rep.OK, rep.Reason = false, "derived: "+problem
		}
	}
	return rep, nil
}

// verifyChain checks seq 1 to head in chunks, in parallel, and links the
// chunks in order.
func (l *Logger) verifyChain(ctx context.Context, head, stored int64, pins map[int64][]byte, against []Checkpoint) (VerifyReport, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := min(runtime.GOMAXPROCS(0), 8)
	pending := make(chan chan chunkResult, workers)
	go func() {
		defer close(pending)
		for from := int64(1); from <= head; from += verifyChunk {
			ch := make(chan chunkResult, 1)
			select {
			case pending <- ch:
			case <-ctx.Done():
				return
			}
			go func(from, to int64) { ch <- l.verifyRange(ctx, from, to, pins) }(from, min(from+verifyChunk-1, head))
		}
	}()

	rep := VerifyReport{}
	prev := genesisHash
	for ch := range pending {
		r := <-ch
		if r.err != nil {
			return VerifyReport{}, r.err
		}
		if r.firstPrev != nil && !bytes.Equal(r.firstPrev, prev) {
			rep.FirstBad, rep.Reason = r.from, fmt.Sprintf("broken link: prev_hash does not match the hash of seq %d", r.from-1)
			return rep, nil
		}
		rep.Checked += r.checked
		if r.bad != 0 {
			rep.FirstBad, rep.Reason = r.bad, r.reason
			if r.bad > stored {
				for _, cp := range against {
					if cp.Seq >= r.bad {
						rep.Reason = fmt.Sprintf("truncated: the log ends at seq %d, but the checkpoint of %s holds seq %d",
							stored, cp.Time.Format(time.RFC3339), cp.Seq)
						break
					}
				}
			}
			return rep, nil
		}
		prev = r.lastHash
	}
	if err := ctx.Err(); err != nil {
		return VerifyReport{}, opErr("verify", err)
	}
	rep.OK = true
	return rep, nil
}

// errStopChain ends a ReadChain walk early.
var errStopChain = errors.New("audit: stop reading the chain")

// chunkResult is what Verify learns from the events from..to on their own;
// the link between chunks is checked in order afterwards.
type chunkResult struct {
	from      int64
	firstPrev []byte // prev_hash of the event at from, if it is there
	lastHash  []byte // hash of the last event checked
	checked   int64
	bad       int64
	reason    string
	err       error
}

func (l *Logger) verifyRange(ctx context.Context, from, to int64, pins map[int64][]byte) (r chunkResult) {
	r.from = from
	want := from
	var buf []byte
	var row chainRow
	var last [HashSize]byte
	bad := func(seq int64, format string, args ...any) error {
		r.bad, r.reason = seq, fmt.Sprintf(format, args...)
		return errStopChain
	}
	err := l.c.store.ReadChain(ctx, from, to, func(ce ChainEntry) error {
		err := checkChainRow(ce.Values, &row)
		e := &row.event
		switch {
		case e.Seq != want:
			return bad(want, "missing: seq %d is absent", want)
		case err != nil:
			return bad(e.Seq, "malformed: %v", err)
		case want == from:
			r.firstPrev = bytes.Clone(row.prevHash)
		case !bytes.Equal(row.prevHash, last[:]):
			return bad(e.Seq, "broken link: prev_hash does not match the hash of seq %d", e.Seq-1)
		}
		sum := chainSum(&buf, row.version, row.prevHash, *e, row.targets, row.meta)
		if !bytes.Equal(sum[:], row.hash) {
			return bad(e.Seq, "altered: the stored hash does not match the event's content")
		}
		if pin, ok := pins[e.Seq]; ok && !bytes.Equal(pin, sum[:]) {
			return bad(e.Seq, "rewritten: seq %d no longer has the hash its checkpoint holds", e.Seq)
		}
		r.checked++
		last = sum
		want++
		return nil
	})
	switch {
	case errors.Is(err, errStopChain):
		return r
	case err != nil:
		r.err = err
		return r
	case want <= to:
		bad(want, "missing: seq %d is absent", want)
		return r
	}
	r.lastHash = bytes.Clone(last[:])
	return r
}
