package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/trailkit/audit"
)

func runExport(ctx context.Context, e *env, args []string) error {
	f := newFlags("export", "[flags]", `Writes every event the filters select, in --order, as CSV (a header row, then
one row per event; cells a spreadsheet would run as formulas get a leading
apostrophe) or JSON Lines (a header line, one event per line, a closing
checkpoint), to stdout or to the file -o names. That file is written beside
it (mode 0600) and moved into place once complete, so it never holds part of
an export.

A JSON Lines export of the whole log (--all-tenants, or a log with one
tenant, and no filter but --from-seq and --to-seq) verifies offline:
"audit verify-export FILE"; --key signs its closing checkpoint. On a
terminal, stderr shows the progress.`)
	var db, format, out, keyFile string
	var fl filters
	var order orderValue
	f.db(&db)
	fl.define(f)
	f.value(&order, "order", "write `newest|oldest` first")
	f.string(&format, "format", "jsonl", "write `csv|jsonl`")
	f.string(&out, "o", "", "write to `FILE` instead of stdout")
	f.string(&keyFile, "key", "", "sign the closing checkpoint of a JSON Lines export\nwith the Ed25519 private key in `FILE` (as checkpoint\n--key)")
	if _, err := f.parse(e, args, 0, 0); err != nil {
		return err
	}
	var ef audit.ExportFormat
	switch format {
	case "csv":
		ef = audit.ExportCSV
	case "jsonl":
		ef = audit.ExportJSONL
	default:
		return usagef("--format %q: want csv or jsonl", format)
	}
	opts, err := signingOptions(keyFile)
	if err != nil {
		return err
	}
	l, err := openLog(ctx, db, opts...)
	if err != nil {
		return err
	}
	defer l.Close()
	v, err := fl.view(l)
	if err != nil {
		return err
	}
	q := fl.query()
	q.Order = order.o

	var w io.Writer = e.stdout
	var tmp *os.File
	if out != "" {
		if tmp, err = os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".partial-*"); err != nil {
			return err
		}
		defer func() {
			if tmp != nil { // not moved into place: an export that failed
				_ = tmp.Close()
				_ = os.Remove(tmp.Name())
			}
		}()
		w = tmp
	}
	cw := &recordCounter{w: w, csv: ef == audit.ExportCSV}
	var prog *progress
	if e.stderrTTY && (out != "" || !e.stdoutTTY) { // not over the export itself
		cq := q
		cq.PerPage = 1 // the total is all it needs
		count, err := v.Recent(ctx, cq)
		if err != nil {
			return err
		}
		prog = startProgress(e.stderr, cw, int64(count.TotalCount))
	}
	n, err := v.Export(ctx, cw, ef, q)
	if prog != nil {
		prog.stop(n, out, err)
	}
	if err != nil {
		return err
	}
	if tmp != nil {
		if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), out); err != nil {
			return err
		}
		tmp = nil
	}
	return nil
}

// recordCounter counts the records written through it: lines of JSON
// Lines, or CSV records (a line break inside a quoted cell ends none).
type recordCounter struct {
	w       io.Writer
	csv     bool
	quoted  bool // inside a quoted CSV cell
	records atomic.Int64
}

func (c *recordCounter) Write(p []byte) (int, error) {
	var n int64
	for _, b := range p {
		switch {
		case b == '"' && c.csv:
			c.quoted = !c.quoted // a doubled quote toggles twice
		case b == '\n' && !c.quoted:
			n++
		}
	}
	c.records.Add(n)
	return c.w.Write(p)
}

// events is how many events have been written: the records but the
// header.
func (c *recordCounter) events() int64 { return max(c.records.Load()-1, 0) }

// progress shows, on a terminal, how far an export is: after the first
// half second, a line rewritten in place every tenth of a second.
type progress struct {
	w        io.Writer
	count    *recordCounter
	total    int64
	start    time.Time
	done     chan struct{}
	finished chan struct{}
	shown    bool
}

const progressWidth = 60

func startProgress(w io.Writer, count *recordCounter, total int64) *progress {
	p := &progress{w: w, count: count, total: total, start: time.Now(), done: make(chan struct{}), finished: make(chan struct{})}
	go p.run()
	return p
}

func (p *progress) run() {
	defer close(p.finished)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return
		case now := <-tick.C:
			if now.Sub(p.start) < 500*time.Millisecond {
				continue
			}
			n := min(p.count.events(), p.total)
			text := fmt.Sprintf("exporting: %s of %s events", groupDigits(n), groupDigits(p.total))
			if p.total > 0 {
				text += fmt.Sprintf(" (%d%%)", n*100/p.total)
			}
			fmt.Fprintf(p.w, "\r%-*s", progressWidth, text)
			p.shown = true
		}
	}
}

// stop ends the progress line with what was exported, or clears the way
// for the error.
func (p *progress) stop(n int64, out string, err error) {
	close(p.done)
	<-p.finished
	if err != nil {
		if p.shown {
			fmt.Fprintln(p.w)
		}
		return
	}
	text := fmt.Sprintf("exported %s in %s", plural(n, "event"), time.Since(p.start).Round(time.Millisecond))
	if out != "" {
		text += " to " + escape(out)
	}
	fmt.Fprintf(p.w, "\r%-*s\n", progressWidth, text)
}
