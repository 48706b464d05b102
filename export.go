package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// ExportFormat is the file format of Export.
type ExportFormat int

// Export formats.
const (
	// ExportCSV writes one header row, then one row per event (RFC 4180
	// quoting). A cell that a spreadsheet would run as a formula (one
	// that starts with =, +, -, @, a tab or a carriage return) is written
	// with a leading apostrophe.
	ExportCSV ExportFormat = iota + 1
	// ExportJSONL writes a first line {"audit_export": {...}} that says
	// what is exported, one event per line in the JSON of Event, then a
	// closing line {"checkpoint": ..., "events": N}: the checkpoint of the
	// newest event exported (signed with WithCheckpointKey). VerifyExport
	// checks such a file without the database. (A reader that wants the
	// events only skips the first and the last line.)
	ExportJSONL
)

// String returns "csv" or "jsonl".
func (f ExportFormat) String() string {
	switch f {
	case ExportCSV:
		return "csv"
	case ExportJSONL:
		return "jsonl"
	}
	return "ExportFormat(" + strconv.Itoa(int(f)) + ")"
}

// CSVColumns are the columns of an ExportCSV file, in order.
var CSVColumns = []string{"seq", "id", "tenant", "occurred_at", "recorded_at", "action", "outcome",
	"actor_type", "actor_id", "actor_name", "resource_type", "resource_id", "resource_name",
	"targets", "metadata", "idempotency_key", "origin_ip", "origin_user_agent", "origin_request_id",
	"chain_version", "prev_hash", "hash"}

// Export writes every event q selects to w in format, in q.Order, streamed
// a chunk at a time (memory stays constant whatever the size of the log),
// and returns how many events it wrote. q.Page and q.PerPage do not limit
// it; q.After starts it where that page ended.
//
// A JSONL export of the AllTenants view (or of the root logger of a log
// with no other tenant) that no filter narrows but Order, FromSeq and
// ToSeq holds a contiguous stretch of the chain: VerifyExport checks it
// offline, event by event, against its closing checkpoint. Any other
// export is marked filtered in its closing line: its events are exactly
// as stored, but with events of the chain left out between them it cannot
// be checked link by link, and VerifyExport refuses it.
func (l *Logger) Export(ctx context.Context, w io.Writer, format ExportFormat, q Query) (int64, error) {
	if format != ExportCSV && format != ExportJSONL {
		return 0, fmt.Errorf("%w: export format %d", ErrInvalidQuery, format)
	}
	f, cursor, err := l.walkStart(q)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var cw *csv.Writer
	if format == ExportCSV {
		cw = csv.NewWriter(bw)
		if err := cw.Write(CSVColumns); err != nil {
			return 0, opErr("export", err)
		}
	}
	var n int64
	var newest Event
	enc := json.NewEncoder(bw)
	if format == ExportJSONL {
		info, err := l.exportInfo(ctx, q, f)
		if err != nil {
			return 0, err
		}
		if err := enc.Encode(exportHeader{Export: info}); err != nil {
			return 0, opErr("export", err)
		}
	}
	for {
		events, _, err := l.c.store.Range(ctx, f, cursor, rangeChunk)
		if err != nil {
			return n, err
		}
		for _, e := range events {
			// Stop within an event, not a chunk, once ctx ends: a
			// chunk may take long to write to a slow reader.
			if err := ctx.Err(); err != nil {
				return n, opErr("export", err)
			}
			if format == ExportCSV {
				err = cw.Write(csvRecord(e))
			} else {
				err = enc.Encode(e)
			}
			if err != nil {
				return n, opErr("export", err)
			}
			n++
			cursor = e.Seq
			if e.Seq > newest.Seq {
				newest = e
			}
		}
		if len(events) < rangeChunk {
			break
		}
	}
	if format == ExportCSV {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, opErr("export", err)
		}
	} else {
		if err := enc.Encode(l.exportTrailer(newest, n)); err != nil {
			return n, opErr("export", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return n, opErr("export", err)
	}
	return n, nil
}

// exportHeader is the first line of a JSONL export.
type exportHeader struct {
	Export exportInfo `json:"audit_export"`
}

// exportInfo says what a JSONL export holds.
type exportInfo struct {
	// Version is the version of the export's format (1).
	Version int `json:"version"`
	// Filtered is true when events of the chain are left out between the
	// exported ones (a tenant's view, a filter): VerifyExport refuses such
	// a file.
	Filtered bool `json:"filtered"`
	// Tenant is the tenant of a view of one tenant; AllTenants is set for
	// the view of every tenant.
	Tenant     string `json:"tenant,omitempty"`
	AllTenants bool   `json:"all_tenants,omitempty"`
	Order      string `json:"order"`
	FromSeq    int64  `json:"from_seq,omitempty"`
	ToSeq      int64  `json:"to_seq,omitempty"`
	// At is when the export was made.
	At time.Time `json:"at"`
}

// exportTrailer is the closing line of a JSONL export.
type exportTrailer struct {
	Checkpoint string `json:"checkpoint"`
	// Events is how many events the file holds.
	Events int64 `json:"events"`
}

const exportVersion = 1

func (l *Logger) exportInfo(ctx context.Context, q Query, f Filter) (exportInfo, error) {
	narrowed := f.Action != "" || f.ActorID != "" || f.ActorType != "" || f.ResourceType != "" || f.ResourceID != "" ||
		f.Subject != "" || f.Outcome != "" || f.Search != "" || !f.Since.IsZero() || !f.Until.IsZero()
	filtered := narrowed || !f.AllTenants
	if !narrowed && l.view == viewRoot {
		// The root logger's view is the default tenant: the whole chain
		// when every event of the log is the default tenant's.
		_, mine, err := l.c.store.List(ctx, Filter{}, 0, 0, 0)
		if err != nil {
			return exportInfo{}, err
		}
		head, _, err := l.c.store.Head(ctx)
		if err != nil {
			return exportInfo{}, err
		}
		filtered = mine != head
	}
	return exportInfo{Version: exportVersion, Filtered: filtered, Tenant: f.Tenant, AllTenants: f.AllTenants,
		Order: q.Order.String(), FromSeq: f.FromSeq, ToSeq: f.ToSeq, At: time.Now().UTC()}, nil
}

// exportTrailer is the closing line: the checkpoint of the newest event
// exported, signed when the logger has a key.
func (l *Logger) exportTrailer(newest Event, n int64) exportTrailer {
	cp := Checkpoint{Seq: newest.Seq, Hash: newest.Hash, Time: time.Now().UTC()}
	if newest.Seq == 0 {
		cp.Hash = append([]byte(nil), genesisHash...)
	}
	text, _ := l.c.opts.sign(cp).MarshalText()
	return exportTrailer{Checkpoint: string(text), Events: n}
}

// csvRecord is the row of e in an ExportCSV file.
func csvRecord(e Event) []string {
	var targets, meta []byte
	if len(e.Targets) > 0 {
		targets, _ = formV2.appendTargets(nil, e.Targets)
	}
	if len(e.Metadata) > 0 {
		meta, _ = formV2.appendValue(nil, e.Metadata, 0)
	}
	rec := []string{strconv.FormatInt(e.Seq, 10), e.ID, e.Tenant,
		e.OccurredAt.UTC().Format(time.RFC3339Nano), e.RecordedAt.UTC().Format(time.RFC3339Nano),
		e.Action, e.Outcome, e.Actor.Type, e.Actor.ID, e.Actor.Name, e.Resource.Type, e.Resource.ID, e.Resource.Name,
		string(targets), string(meta), e.IdempotencyKey, e.Origin.IP, e.Origin.UserAgent, e.Origin.RequestID,
		strconv.Itoa(e.ChainVersion), hex.EncodeToString(e.PrevHash), hex.EncodeToString(e.Hash)}
	for i, cell := range rec {
		rec[i] = neutralizeFormula(cell)
	}
	return rec
}

// neutralizeFormula keeps a spreadsheet from running a cell as a formula:
// one that starts with =, +, -, @, a tab or a carriage return gets a
// leading apostrophe.
func neutralizeFormula(cell string) string {
	if cell != "" && bytes.IndexByte([]byte("=+-@\t\r"), cell[0]) >= 0 {
		return "'" + cell
	}
	return cell
}

// maxExportLine bounds one line of a JSONL export (an event is at most
// WithMaxEventBytes encoded; its JSON is larger, by base64 and escapes).
const maxExportLine = 64 << 20

// VerifyExport checks a JSONL export (ExportJSONL) without the database:
// it recomputes every event's hash from its content, checks that each
// event links to the next (Seq by one, prev_hash to hash, in either
// order), and that the closing checkpoint pins the newest event; with pub,
// that the checkpoint is signed by its private key (an unsigned one is then
// refused with ErrInvalidCheckpoint). Tampering is reported in the
// VerifyReport, FirstBad naming the first bad event's Seq and Reason its
// line; the error is for a file that is not an export, or is filtered
// (ErrUnverifiableExport: a filtered export leaves events of the chain out
// between the ones it holds). It reads one line at a time.
//
// What it proves: the events of the file are those of the chain, from the
// first one's prev_hash to the checkpoint, unaltered and none missing
// between them. That the chain before the first one, or after the
// checkpoint, is intact needs the database (Logger.Verify).
func VerifyExport(r io.Reader, pub ed25519.PublicKey) (VerifyReport, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxExportLine)
	var rep VerifyReport
	var prev Event
	var order int // 0 unknown, 1 ascending, -1 descending
	var newest Event
	var buf []byte
	bad := func(seq int64, line int, format string, args ...any) (VerifyReport, error) {
		rep.FirstBad = seq
		rep.Reason = fmt.Sprintf("line %d: ", line) + fmt.Sprintf(format, args...)
		return rep, nil
	}
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return VerifyReport{}, fmt.Errorf("audit: verify export: %w", err)
		}
		return VerifyReport{}, fmt.Errorf("%w: empty", ErrUnverifiableExport)
	}
	var head exportHeader
	if err := json.Unmarshal(sc.Bytes(), &head); err != nil || head.Export.Version == 0 {
		return VerifyReport{}, fmt.Errorf("%w: line 1 is not the header of an export of this package", ErrUnverifiableExport)
	}
	if head.Export.Version != exportVersion {
		return VerifyReport{}, fmt.Errorf("%w: export format version %d", ErrUnverifiableExport, head.Export.Version)
	}
	if head.Export.Filtered {
		return VerifyReport{}, fmt.Errorf("%w: a filtered export (tenant %q): events of the chain are left out between its events, so it cannot be checked link by link; export the AllTenants view without filters to verify offline",
			ErrUnverifiableExport, head.Export.Tenant)
	}
	for line := 2; sc.Scan(); line++ {
		raw := sc.Bytes()
		if bytes.HasPrefix(raw, []byte(`{"checkpoint":`)) {
			var tr exportTrailer
			if err := json.Unmarshal(raw, &tr); err != nil {
				return VerifyReport{}, fmt.Errorf("%w: line %d: %w", ErrUnverifiableExport, line, err)
			}
			if sc.Scan() {
				return VerifyReport{}, fmt.Errorf("%w: line %d: lines after the closing checkpoint", ErrUnverifiableExport, line+1)
			}
			var cp Checkpoint
			if err := cp.UnmarshalText([]byte(tr.Checkpoint)); err != nil {
				return VerifyReport{}, err
			}
			if err := cp.verifySignature(pub); err != nil {
				return VerifyReport{}, err
			}
			if tr.Events != rep.Checked {
				return bad(newest.Seq, line, "the export says it holds %d events; it holds %d: lines were removed or added", tr.Events, rep.Checked)
			}
			if rep.Checked > 0 && (cp.Seq != newest.Seq || !bytes.Equal(cp.Hash, newest.Hash)) {
				return bad(newest.Seq, line, "the checkpoint pins seq %d, not the newest event of the export (seq %d with its hash)", cp.Seq, newest.Seq)
			}
			if err := sc.Err(); err != nil {
				return VerifyReport{}, fmt.Errorf("audit: verify export: %w", err)
			}
			rep.OK = true
			return rep, nil
		}
		var e Event
		if err := unmarshalNumber(raw, &e); err != nil {
			return bad(prev.Seq+int64(order), line, "not an event: %v", err)
		}
		sum, err := exportedHash(&buf, e)
		if err != nil {
			return bad(e.Seq, line, "malformed: %v", err)
		}
		if !bytes.Equal(sum[:], e.Hash) {
			return bad(e.Seq, line, "altered: the hash does not match the event's content")
		}
		if rep.Checked > 0 {
			if order == 0 {
				order = 1
				if e.Seq < prev.Seq {
					order = -1
				}
			}
			switch {
			case e.Seq != prev.Seq+int64(order):
				return bad(e.Seq, line, "seq %d follows seq %d: events are missing or out of order", e.Seq, prev.Seq)
			case order > 0 && !bytes.Equal(e.PrevHash, prev.Hash):
				return bad(e.Seq, line, "broken link: prev_hash does not match the hash of seq %d", prev.Seq)
			case order < 0 && !bytes.Equal(prev.PrevHash, e.Hash):
				return bad(prev.Seq, line-1, "broken link: prev_hash does not match the hash of seq %d", e.Seq)
			}
		}
		if e.Seq > newest.Seq {
			newest = e
		}
		prev = e
		rep.Checked++
	}
	if err := sc.Err(); err != nil {
		return VerifyReport{}, fmt.Errorf("audit: verify export: %w", err)
	}
	return bad(newest.Seq+1, int(rep.Checked)+2, "no closing checkpoint: the export was cut short")
}

// exportedHash recomputes the hash of an exported event under its own
// version of the canonical encoding.
func exportedHash(buf *[]byte, e Event) ([HashSize]byte, error) {
	v := e.ChainVersion
	if v < chainV1 || v > chainV3 {
		return [HashSize]byte{}, fmt.Errorf("chain_version %d is unknown", v)
	}
	form := jsonForms[v]
	var targets, meta []byte
	var err error
	if len(e.Targets) > 0 {
		if targets, err = form.appendTargets(nil, e.Targets); err != nil {
			return [HashSize]byte{}, err
		}
	}
	if len(e.Metadata) > 0 {
		if meta, err = form.appendValue(nil, e.Metadata, 0); err != nil {
			return [HashSize]byte{}, err
		}
	}
	if v < chainV3 && !e.Origin.IsZero() {
		return [HashSize]byte{}, fmt.Errorf("an origin on an event of chain version %d", v)
	}
	return chainSum(buf, v, e.PrevHash, e, targets, meta), nil
}
