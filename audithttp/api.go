package audithttp

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trailkit/audit"
)

// The JSON API. Every endpoint reads through h.logger (the request's
// tenant view) and never writes to the log.

// defaultHeartbeat is how often /api/tail sends a comment (": ping") when
// no event comes, so that proxies and browsers keep the stream open.
const defaultHeartbeat = 15 * time.Second

// writeJSON writes v as the JSON body of a 200 response. It encodes first,
// so that a value that cannot be encoded is a 500, not half a body.
func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		h.fail(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// oneParam returns the parameter name of v, refusing it when given twice.
func oneParam(v url.Values, name string) (string, error) {
	vs := v[name]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", fmt.Errorf("%w: %s given %d times", errBadParam, name, len(vs))
}

// limitParam reads the parameter "limit": 0 when absent (the library's
// default), else a non-negative integer.
func limitParam(v url.Values) (int, error) {
	s, err := oneParam(v, "limit")
	if err != nil || s == "" {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 1<<20 {
		return 0, fmt.Errorf("%w: limit: want a non-negative integer", errBadParam)
	}
	return n, nil
}

// apiList serves GET /api/events: the audit.Page of the query the
// parameters describe.
func (h *handler) apiList(w http.ResponseWriter, r *http.Request) {
	l, ok := h.logger(w, r)
	if !ok {
		return
	}
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := l.Recent(r.Context(), q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if p.Entries == nil {
		p.Entries = []audit.Event{}
	}
	h.writeJSON(w, r, p)
}

// apiGet serves GET /api/events/{id}: one event of the request's view.
func (h *handler) apiGet(w http.ResponseWriter, r *http.Request) {
	l, ok := h.logger(w, r)
	if !ok {
		return
	}
	e, err := l.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		if errors.Is(err, audit.ErrNotFound) {
			err = fmt.Errorf("%w: no such event", audit.ErrNotFound) // without the id: it is the caller's own
		}
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, e)
}

// termQuery reads the request of a typeahead endpoint: its view, the term
// in parameter param and "limit". ok is false when the request was refused
// (the response is written).
func (h *handler) termQuery(w http.ResponseWriter, r *http.Request, param string) (l *audit.Logger, term string, limit int, ok bool) {
	if l, ok = h.logger(w, r); !ok {
		return nil, "", 0, false
	}
	v := r.URL.Query()
	term, err := oneParam(v, param)
	if err == nil {
		limit, err = limitParam(v)
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, "", 0, false
	}
	return l, term, limit, true
}

// apiSuggest serves GET /api/suggest?q=TERM&limit=N.
func (h *handler) apiSuggest(w http.ResponseWriter, r *http.Request) {
	l, term, limit, ok := h.termQuery(w, r, "q")
	if !ok {
		return
	}
	s, err := l.Suggest(r.Context(), term, limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if s == nil {
		s = []audit.Suggestion{}
	}
	h.writeJSON(w, r, struct {
		Suggestions []audit.Suggestion `json:"suggestions"`
	}{s})
}

// apiActions serves GET /api/actions?prefix=P&limit=N.
func (h *handler) apiActions(w http.ResponseWriter, r *http.Request) {
	l, prefix, limit, ok := h.termQuery(w, r, "prefix")
	if !ok {
		return
	}
	a, err := l.Actions(r.Context(), prefix, limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if a == nil {
		a = []audit.ActionCount{}
	}
	h.writeJSON(w, r, struct {
		Actions []audit.ActionCount `json:"actions"`
	}{a})
}

// apiExport serves GET /api/export?format=csv|jsonl and the filters of
// /api/events: the file, streamed.
//
// Without to_seq (and without a cursor) the export is pinned to the head
// of the log at the request, so that the file holds exactly the range its
// name says: audit-seq{FROM}-{TO}[-since-{TIME}][-until-{TIME}].{csv,jsonl}
// (TO is "end" when a cursor starts the export and no to_seq bounds it).
//
// An error before the first byte is a JSON error; an error after it
// aborts the response, so that a truncated file never looks complete.
func (h *handler) apiExport(w http.ResponseWriter, r *http.Request) {
	l, ok := h.logger(w, r)
	if !ok {
		return
	}
	v := r.URL.Query()
	fs, err := oneParam(v, "format")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var format audit.ExportFormat
	var ctype string
	switch fs {
	case "csv":
		format, ctype = audit.ExportCSV, "text/csv; charset=utf-8"
	case "jsonl":
		format, ctype = audit.ExportJSONL, "application/x-ndjson"
	default:
		h.fail(w, r, fmt.Errorf("%w: format: want csv or jsonl", errBadParam))
		return
	}
	q, err := parseQuery(v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	to := "end"
	switch {
	case q.ToSeq > 0:
		to = strconv.FormatInt(q.ToSeq, 10)
	case q.After == "":
		cp, err := l.Checkpoint(r.Context())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if cp.Seq > 0 && cp.Seq >= q.FromSeq {
			q.ToSeq = cp.Seq
		}
		to = strconv.FormatInt(cp.Seq, 10)
	}
	name := "audit-seq" + strconv.FormatInt(max(q.FromSeq, 1), 10) + "-" + to
	if !q.Since.IsZero() {
		name += "-since-" + q.Since.UTC().Format("20060102T150405Z")
	}
	if !q.Until.IsZero() {
		name += "-until-" + q.Until.UTC().Format("20060102T150405Z")
	}
	name += "." + fs

	sw := &startWriter{w: w, start: func() {
		hd := w.Header()
		hd.Set("Content-Type", ctype)
		hd.Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.WriteHeader(http.StatusOK)
	}}
	n, err := l.Export(r.Context(), sw, format, q)
	if err == nil && !sw.started {
		sw.start() // nothing written: an empty body (cannot happen: both formats have a header line)
		sw.started = true
	}
	if err == nil {
		return
	}
	if !sw.started {
		h.fail(w, r, err)
		return
	}
	if r.Context().Err() == nil {
		h.cfg.log.ErrorContext(r.Context(), "audithttp: export aborted", "path", r.URL.Path, "events", n, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// startWriter calls start before its first write.
type startWriter struct {
	w       http.ResponseWriter
	start   func()
	started bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	if !s.started {
		s.started = true
		s.start()
	}
	return s.w.Write(p)
}

// apiTail serves GET /api/tail: Server-Sent Events, one unnamed event per
// audit event ("id: SEQ" and "data: EVENT JSON"), live, with a comment
// every heartbeat. It starts after the Seq of the Last-Event-ID header, or
// else of the parameter since (in this endpoint a Seq, not a time), or
// else after the newest event when it connects. The filters of
// /api/events apply, but for order, page, per_page and after.
func (h *handler) apiTail(w http.ResponseWriter, r *http.Request) {
	l, ok := h.logger(w, r)
	if !ok {
		return
	}
	v := r.URL.Query()
	sinceParam, err := oneParam(v, "since")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v.Del("since")
	q, err := parseQuery(v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q.Order, q.Page, q.PerPage, q.After = audit.NewestFirst, 0, 0, ""
	if q.ToSeq > 0 && q.FromSeq > q.ToSeq {
		h.fail(w, r, fmt.Errorf("%w: from_seq is after to_seq", errBadParam))
		return
	}
	// Check the filter now, while the answer can still be a 400: a page
	// of a range that holds nothing reads no row.
	check := q
	check.FromSeq, check.ToSeq, check.PerPage = math.MaxInt64, math.MaxInt64, 1
	if _, err := l.Recent(r.Context(), check); err != nil {
		h.fail(w, r, err)
		return
	}
	since := int64(-1)
	for _, s := range []struct{ name, value string }{{"Last-Event-ID", r.Header.Get("Last-Event-ID")}, {"since", sinceParam}} {
		if s.value == "" {
			continue
		}
		n, perr := strconv.ParseInt(strings.TrimSpace(s.value), 10, 64)
		if perr != nil || n < 0 {
			h.fail(w, r, fmt.Errorf("%w: %s: want the seq of an event", errBadParam, s.name))
			return
		}
		since = n
		break
	}
	if since < 0 {
		cp, err := l.Checkpoint(r.Context())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		since = cp.Seq
	}

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's WriteTimeout
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return // the client is gone, or the writer cannot stream
	}
	if r.Method == http.MethodHead {
		return
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	type item struct {
		e   audit.Event
		err error
	}
	events := make(chan item)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(events)
		for e, err := range l.Tail(ctx, since, q) {
			select {
			case events <- item{e, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() { cancel(); <-done }()

	hb := h.cfg.heartbeat
	if hb <= 0 {
		hb = defaultHeartbeat
	}
	tick := time.NewTicker(hb)
	defer tick.Stop()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := w.Write([]byte(": ping\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		case it, ok := <-events:
			if !ok {
				return // the tail ended: the client went away
			}
			if it.err != nil {
				if !errors.Is(it.err, audit.ErrClosed) && ctx.Err() == nil {
					if _, cerr := l.Checkpoint(ctx); !errors.Is(cerr, audit.ErrClosed) {
						h.cfg.log.ErrorContext(ctx, "audithttp: tail ended", "path", r.URL.Path, "err", it.err)
					}
				}
				return // the log closed, or failed: the client reconnects with Last-Event-ID
			}
			data, err := json.Marshal(it.e)
			if err != nil {
				h.cfg.log.ErrorContext(ctx, "audithttp: tail", "path", r.URL.Path, "seq", it.e.Seq, "err", err)
				return
			}
			buf = buf[:0]
			buf = append(buf, "id: "...)
			buf = strconv.AppendInt(buf, it.e.Seq, 10)
			buf = append(buf, "\ndata: "...)
			buf = append(buf, data...)
			buf = append(buf, "\n\n"...)
			if _, err := w.Write(buf); err != nil || rc.Flush() != nil {
				return
			}
			tick.Reset(hb)
		}
	}
}

// verifyReport is the JSON of audit.VerifyReport.
type verifyReport struct {
	Checked  int64  `json:"checked"`
	OK       bool   `json:"ok"`
	FirstBad int64  `json:"first_bad"`
	Reason   string `json:"reason"`
}

// apiVerify serves GET /api/verify (WithOperator only): Verify of the
// whole chain, against the checkpoints given as parameters "checkpoint"
// (each in the text form that /api/checkpoint returns), as
// {"checked": N, "ok": true, "first_bad": 0, "reason": ""}.
func (h *handler) apiVerify(w http.ResponseWriter, r *http.Request) {
	l, ok := h.logger(w, r)
	if !ok {
		return
	}
	var against []audit.Checkpoint
	for _, s := range r.URL.Query()["checkpoint"] {
		var cp audit.Checkpoint
		if err := cp.UnmarshalText([]byte(s)); err != nil {
			h.fail(w, r, fmt.Errorf("%w: checkpoint: %w", errBadParam, err))
			return
		}
		against = append(against, cp)
	}
	rep, err := l.Verify(r.Context(), against...)
	if err != nil {
		if errors.Is(err, audit.ErrInvalidCheckpoint) {
			err = fmt.Errorf("%w: %w", errBadParam, err)
		}
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, verifyReport{Checked: rep.Checked, OK: rep.OK, FirstBad: rep.FirstBad, Reason: rep.Reason})
}

// checkpointJSON is the JSON of audit.Checkpoint: its fields, and Text,
// the line to keep and give back to Verify (/api/verify?checkpoint=).
type checkpointJSON struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`                 // hex
	Time      time.Time `json:"time"`                 // RFC 3339
	PublicKey string    `json:"public_key,omitempty"` // hex, when signed
	Signature string    `json:"signature,omitempty"`  // hex, when signed
	Text      string    `json:"text"`
}

// apiCheckpoint serves POST /api/checkpoint (WithOperator only): the
// current head of the chain, signed when the logger has a key.
func (h *handler) apiCheckpoint(w http.ResponseWriter, r *http.Request) {
	l, ok := h.logger(w, r)
	if !ok {
		return
	}
	cp, err := l.Checkpoint(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, checkpointJSON{
		Seq: cp.Seq, Hash: hex.EncodeToString(cp.Hash), Time: cp.Time,
		PublicKey: hex.EncodeToString(cp.PublicKey), Signature: hex.EncodeToString(cp.Signature),
		Text: cp.String(),
	})
}
