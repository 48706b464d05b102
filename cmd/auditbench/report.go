package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

type machine struct {
	CPUs      int
	OS, Arch  string
	GoVersion string
	CPUModel  string
}

func describeMachine() machine {
	return machine{
		CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		GoVersion: runtime.Version(), CPUModel: cpuModel(),
	}
}

func (m machine) String() string {
	return fmt.Sprintf("%d CPUs (%s), %s/%s, %s", m.CPUs, m.CPUModel, m.OS, m.Arch, m.GoVersion)
}

// cpuModel reads the model name from /proc/cpuinfo, where there is one.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// table is rendered both as aligned text and as markdown.
type table struct {
	Title  string
	Note   string
	Header []string
	Rows   [][]string
}

func (t table) text(w io.Writer) {
	fmt.Fprintln(w, t.Title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, r := range append([][]string{t.Header}, t.Rows...) {
		// First column left-aligned: pad it to the widest by hand.
		fmt.Fprintf(tw, "%s\t%s\t\n", padRight(r[0], t.firstWidth()), strings.Join(r[1:], "\t"))
	}
	tw.Flush()
	if t.Note != "" {
		fmt.Fprintln(w, t.Note)
	}
	fmt.Fprintln(w)
}

func (t table) firstWidth() int {
	n := 0
	for _, r := range append([][]string{t.Header}, t.Rows...) {
		n = max(n, len([]rune(r[0])))
	}
	return n
}

func padRight(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-len([]rune(s))))
}

func (t table) markdown(w io.Writer) {
	fmt.Fprintf(w, "### %s\n\n", t.Title)
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.Header, " | "))
	sep := make([]string, len(t.Header))
	for i := range sep {
		sep[i] = "---:"
	}
	sep[0] = ":---"
	fmt.Fprintf(w, "|%s|\n", strings.Join(sep, "|"))
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	if t.Note != "" {
		fmt.Fprintf(w, "\n%s\n", t.Note)
	}
	fmt.Fprintln(w)
}

// target is one goal of the performance issue and how the run did.
type target struct {
	Name string
	// Figures are the measurements behind the value, e.g. "6,541 / 20,350 events/s".
	Figures string
	Value   float64
	AtMost  bool // the value must be <= Limit (else >=)
	Limit   float64
	Skip    string // why it was not measured
	Unit    string
}

func (t target) status() string {
	switch {
	case t.Skip != "":
		return "SKIP"
	case t.AtMost && t.Value <= t.Limit, !t.AtMost && t.Value >= t.Limit:
		return "PASS"
	}
	return "FAIL"
}

func (t target) row() []string {
	op := ">="
	if t.AtMost {
		op = "<="
	}
	value := "-"
	if t.Skip == "" {
		value = fmtRatio(t.Value) + t.Unit
	}
	limit := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", t.Limit), "0"), ".")
	if t.Unit != "" {
		limit = fmtCount(t.Limit) + t.Unit
		if t.Skip == "" {
			value = fmtCount(t.Value) + t.Unit
		}
	}
	st := t.status()
	if t.Skip != "" {
		st += " (" + t.Skip + ")"
	}
	figures := t.Figures
	if t.Skip != "" || figures == "" {
		figures = "-"
	}
	return []string{t.Name, figures, value, op + " " + limit, st}
}

func fmtRatio(v float64) string { return fmt.Sprintf("%.2f", v) }

// fmtCount writes 1234567 as 1,234,567.
func fmtCount(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtUS(d time.Duration) string { return fmtCount(us(d)) }

func fmtSecs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

// smallLarge returns the smallest and the largest size measured.
func (r results) smallLarge() (small, large sizeResult, ok bool) {
	if len(r.Sizes) < 2 {
		return sizeResult{}, sizeResult{}, false
	}
	return r.Sizes[0], r.Sizes[len(r.Sizes)-1], true
}

func (r results) ratioLabel() string {
	s, l, ok := r.smallLarge()
	if !ok {
		return "ratio"
	}
	return human(l.Size) + "/" + human(s.Size)
}

func (r results) ingestTable() table {
	in := r.Ingest
	ingest := table{
		Title:  "Ingest (each Track call waits for its durable commit)",
		Header: []string{"writer", "events", "seconds", "events/s", "vs ceiling", "vs naive"},
		Note: fmt.Sprintf("Every run writes the same %s generated events into a new file. The ceiling and the naive baseline insert the rows "+
			"the 8-caller log stored into a new file with the log's own audit_events table and indexes (no triggers, no side tables), "+
			"same driver and pragmas (WAL, synchronous=NORMAL). The reference row, the ceiling's loop with 8 rows per transaction, "+
			"bounds what 8 callers reach if each transaction carries all 8 (no target).", fmtCount(float64(r.Config.Ingest))),
	}
	add := func(x ingestResult) {
		ingest.Rows = append(ingest.Rows, []string{x.Name, fmtCount(float64(x.Events)), fmtSecs(x.Dur), fmtCount(x.Rate()),
			fmtRatio(x.Rate() / in.Ceiling.Rate()), fmtRatio(x.Rate() / in.Naive.Rate())})
	}
	add(in.Ceiling)
	add(in.Naive)
	add(in.PerTx8)
	for _, c := range in.Callers {
		add(in.Track[c])
	}
	return ingest
}

func (r results) tables() []table {
	var ts []table
	in := r.Ingest
	if in.Track != nil {
		ts = append(ts, r.ingestTable())
	}
	if r.Interleaved != nil {
		ts = append(ts, r.Interleaved.table())
	}
	if len(r.Sizes) == 0 {
		return append(ts, r.closingTables()...)
	}

	seeding := table{
		Title:  "Seeding (Record from many goroutines, group commit)",
		Header: []string{"log size", "rows added", "seconds", "rows/s"},
		Note: fmt.Sprintf("%d goroutines call Logger.Record; the writer commits up to %d events per transaction (audit.WithMaxBatch).",
			r.Config.SeedWorkers, r.Config.SeedBatch),
	}
	for _, s := range r.Sizes {
		seeding.Rows = append(seeding.Rows, []string{human(s.Size), fmtCount(float64(s.Seeded)), fmtSecs(s.SeedDur),
			fmtCount(float64(s.Seeded) / s.SeedDur.Seconds())})
	}
	ts = append(ts, seeding)

	q := table{
		Title: "Queries (µs)",
		Note: fmt.Sprintf("One caller. The shapes are called in turn, round after round (10 warm-up rounds, then %d timed calls "+
			"per shape; page 1,000 by OFFSET only in the first %d rounds), after the seeded files were flushed to disk. "+
			"Filtered shapes cycle through up to 16 keys, each with more than a page of events at every size. "+
			"Pages hold %d entries (Search: 5).",
			r.Config.Reps, max(5, r.Config.Reps/10), perPage),
	}
	q.Header = []string{"query"}
	for _, s := range r.Sizes {
		q.Header = append(q.Header, human(s.Size)+" median", human(s.Size)+" p99")
	}
	_, _, haveRatio := r.smallLarge()
	if haveRatio {
		q.Header = append(q.Header, r.ratioLabel()+" (median)")
	}
	for _, sh := range shapes {
		row := []string{sh.Name}
		for _, s := range r.Sizes {
			if l, ok := s.Latencies[sh.Key]; ok {
				row = append(row, fmtUS(l.Median), fmtUS(l.P99))
			} else {
				row = append(row, "-", "-")
			}
		}
		if haveRatio {
			row = append(row, r.ratio(sh.Key))
		}
		q.Rows = append(q.Rows, row)
	}
	ts = append(ts, q)

	mem := table{
		Title:  "Passes over the whole log",
		Header: []string{"pass", "rows", "seconds", "rows/s", "peak heap MiB", "allocated B/row"},
		Note: "Peak heap: the highest heap in use (MemStats.HeapAlloc, sampled every millisecond) above the heap before the pass. " +
			"Full iteration: All, the iterator (500 events a time by keyset). Export: the AllTenants view as JSON Lines to io.Discard. " +
			"Plain scan: SELECT * FROM audit_events ORDER BY seq through database/sql on the same file with the library's reader settings, every column of every row scanned into Go values (Verify's baseline). " +
			"Verify checks the chain and then recounts the derived tables (counters, catalogues, terms) from the log, its parts side by side; the recount's row times that second part again, alone.",
	}
	for _, s := range r.Sizes {
		it := s.Iteration
		mem.Rows = append(mem.Rows, []string{"Full iteration, " + human(s.Size), fmtCount(float64(it.Rows)), fmtSecs(it.Dur),
			fmtCount(it.Rate()), fmt.Sprintf("%.1f", mib(it.PeakHeap)), fmtCount(it.AllocPerRow)})
	}
	for _, s := range r.Sizes {
		x := s.Export
		mem.Rows = append(mem.Rows, []string{"Export JSONL, " + human(s.Size), fmtCount(float64(x.Rows)), fmtSecs(x.Dur),
			fmtCount(x.Rate()), fmt.Sprintf("%.1f", mib(x.PeakHeap)), fmtCount(x.AllocPerRow)})
	}
	for _, s := range r.Sizes {
		x := s.Scan
		mem.Rows = append(mem.Rows, []string{"Plain scan (SELECT *, database/sql), " + human(s.Size), fmtCount(float64(x.Rows)), fmtSecs(x.Dur),
			fmtCount(x.Rate()), fmt.Sprintf("%.1f", mib(x.PeakHeap)), fmtCount(x.AllocPerRow)})
	}
	for _, s := range r.Sizes {
		if !s.Verified {
			mem.Rows = append(mem.Rows, []string{"Verify, " + human(s.Size), "-", "-", "-", "-", "-"})
			continue
		}
		v := s.Verify
		mem.Rows = append(mem.Rows, []string{"Verify, " + human(s.Size), fmtCount(float64(v.Rows)), fmtSecs(v.Dur),
			fmtCount(v.Rate()), fmt.Sprintf("%.1f", mib(v.PeakHeap)), fmtCount(v.AllocPerRow)})
		if s.Recount > 0 {
			mem.Rows = append(mem.Rows, []string{"of which the recount of derived tables, alone", "-", fmtSecs(s.Recount), "-", "-", "-"})
		}
	}
	ts = append(ts, mem)
	return append(ts, r.closingTables()...)
}

// closingTables are the HTTP comparison and the targets, of the parts that
// ran.
func (r results) closingTables() []table {
	var ts []table
	if r.HTTP != nil {
		ts = append(ts, r.HTTP.tables()...)
	}
	if r.Ingest.Track != nil || len(r.Sizes) > 0 || r.Interleaved != nil {
		ts = append(ts, r.targetTable(), r.otherTargetTable())
	}
	return ts
}

func (r results) targetTable() table {
	tg := table{
		Title:  "Targets (issue 11)",
		Header: []string{"target", "figures", "value", "goal", "result"},
		Note: "Every ratio is from this one run, its two sides measured side by side (same rows, same table and indexes, same driver " +
			"and pragmas; the page and its baseline in the same query loop; the two sizes of the growth rows in alternation in one loop). " +
			"Page and growth rows compare medians. The write rows' baselines have no insert trigger and no derived tables: " +
			"BENCHMARKS.md, \"What the 8-caller goals would take\", measures what each costs Track.",
	}
	for _, t := range r.targets() {
		tg.Rows = append(tg.Rows, t.row())
	}
	return tg
}

func (r results) otherTargetTable() table {
	tg := table{
		Title:  "Other targets (PRODUCT.md)",
		Header: []string{"target", "figures", "value", "goal", "result"},
		Note: "The sizes of the main loop are measured one after the other (the log grows between them). \"Flat\" memory: the peak heap " +
			"at the largest size is at most 1.5 times the peak at the smallest (plus 1 MiB of sampling slack).",
	}
	for _, t := range r.otherTargets() {
		tg.Rows = append(tg.Rows, t.row())
	}
	return tg
}

// figures writes "a / b unit".
func figures(a, b float64, unit string) string {
	return fmtCount(a) + " / " + fmtCount(b) + " " + unit
}

// targets are the goals of issue 11.
func (r results) targets() []target {
	in := r.Ingest
	t8, t1 := in.Track[8].Rate(), in.Track[1].Rate()
	ts := []target{
		{Name: "Track, 8 callers / bare INSERT loop committing every 8 rows", Figures: figures(t8, in.PerTx8.Rate(), "events/s"),
			Value: t8 / in.PerTx8.Rate(), Limit: 0.8},
		{Name: "Track, 1 caller / naive (one autocommit INSERT per event)", Figures: figures(t1, in.Naive.Rate(), "events/s"),
			Value: t1 / in.Naive.Rate(), Limit: 0.8},
		{Name: "Track, 8 callers / naive", Figures: figures(t8, in.Naive.Rate(), "events/s"),
			Value: t8 / in.Naive.Rate(), Limit: 1.5},
	}
	if in.Track == nil {
		for i := range ts {
			ts[i].Skip = "not run"
		}
	}
	page := func(size int64, lat map[string]latency, where string) target {
		t := target{Name: "Recent page of 50 with exact total / plain SELECT * of the newest 50, " + human(size) + where, AtMost: true, Limit: 1.5}
		a, okA := lat[qRecent]
		b, okB := lat[qPlain]
		if !okA || !okB || b.Median <= 0 {
			t.Skip = "not measured"
			return t
		}
		t.Figures = fmtUS(a.Median) + " / " + fmtUS(b.Median) + " µs"
		t.Value = float64(a.Median) / float64(b.Median)
		return t
	}
	var pages []target
	if il := r.Interleaved; il != nil {
		pages = append(pages, page(il.Small, il.Latencies[0], " (interleaved loop)"), page(il.Large, il.Latencies[1], " (interleaved loop)"))
	}
	for _, s := range r.Sizes {
		pages = append(pages, page(s.Size, s.Latencies, ""))
	}
	if len(pages) == 0 {
		pages = []target{{Name: "Recent page of 50 with exact total / plain SELECT * of the newest 50", AtMost: true, Limit: 1.5, Skip: "not run"}}
	}
	ts = append(ts, pages...)
	if len(r.Sizes) == 0 {
		ts = append(ts, target{Name: "Verify / plain scan of every column of every row (rows/s)", Limit: 0.7, Skip: "not run"})
	}
	for _, s := range r.Sizes {
		t := target{Name: "Verify / plain scan of every column of every row (rows/s), " + human(s.Size), Limit: 0.7}
		if !s.Verified || s.Scan.Rate() <= 0 {
			t.Skip = "not measured"
		} else {
			t.Figures = figures(s.Verify.Rate(), s.Scan.Rate(), "rows/s")
			t.Value = s.Verify.Rate() / s.Scan.Rate()
		}
		ts = append(ts, t)
	}
	il := r.Interleaved
	for _, sh := range shapes {
		if !sh.Flat {
			continue
		}
		t := target{Name: sh.Name + ", median", AtMost: true, Limit: 1.5}
		if il == nil {
			t.Skip = "not run"
			t.Name += ", interleaved sizes"
		} else {
			t.Name += ", " + human(il.Small) + " → " + human(il.Large) + " (interleaved)"
			a, okA := il.Latencies[0][sh.Key]
			b, okB := il.Latencies[1][sh.Key]
			if !okA || !okB || a.Median <= 0 {
				t.Skip = "not measured"
			} else {
				t.Figures = fmtUS(a.Median) + " → " + fmtUS(b.Median) + " µs"
				t.Value = float64(b.Median) / float64(a.Median)
			}
		}
		ts = append(ts, t)
	}
	return ts
}

func (r results) ratio(key string) string {
	s, l, ok := r.smallLarge()
	if !ok {
		return "-"
	}
	a, okA := s.Latencies[key]
	b, okB := l.Latencies[key]
	if !okA || !okB || a.Median <= 0 {
		return "-"
	}
	return fmtRatio(float64(b.Median) / float64(a.Median))
}

// otherTargets are the goals of PRODUCT.md that issue 11 did not restate:
// flat from the smallest to the largest size of the main loop, page 1,000
// by cursor as cheap as page 1, constant memory.
func (r results) otherTargets() []target {
	var ts []target
	small, large, ok := r.smallLarge()
	label := r.ratioLabel()
	twoSizes := "needs two sizes"
	if len(r.Sizes) == 0 {
		twoSizes = "not run"
	}
	for _, x := range []struct{ key, name string }{
		{qRecent, "Recent page 1 with exact total"},
		{qForAccount, "ForAccount"},
		{qActor, "actor filter"},
		{qAction, "action filter"},
		{qSearch, "Search"},
		{qActions, "Actions"},
		{qSuggest, "Suggest"},
	} {
		t := target{Name: x.name + ", " + label + " (median)", AtMost: true, Limit: 1.5}
		if !ok {
			t.Skip = twoSizes
		} else {
			a, b := small.Latencies[x.key].Median, large.Latencies[x.key].Median
			t.Figures = fmtUS(a) + " → " + fmtUS(b) + " µs"
			t.Value = float64(b) / float64(a)
		}
		ts = append(ts, t)
	}
	for _, s := range r.Sizes {
		t := target{Name: "page 1,000 by cursor / page 1, " + human(s.Size), AtMost: true, Limit: 2}
		c, okC := s.Latencies[qCursor1000]
		p, okP := s.Latencies[qRecent]
		if !okC || !okP {
			t.Skip = "log too small"
		} else {
			t.Figures = fmtUS(c.Median) + " / " + fmtUS(p.Median) + " µs"
			t.Value = float64(c.Median) / float64(p.Median)
		}
		ts = append(ts, t)
	}
	flat := func(name string, get func(sizeResult) (memResult, bool)) target {
		t := target{Name: name + ", " + label, AtMost: true, Limit: 1.5}
		a, okA := get(small)
		b, okB := get(large)
		switch {
		case !ok:
			t.Skip = twoSizes
		case !okA || !okB:
			t.Skip = "not measured"
		default:
			t.Figures = fmt.Sprintf("%.1f → %.1f MiB", mib(a.PeakHeap), mib(b.PeakHeap))
			t.Value = (mib(b.PeakHeap)) / (mib(a.PeakHeap) + 1)
		}
		return t
	}
	ts = append(ts,
		flat("Verify peak heap flat", func(s sizeResult) (memResult, bool) { return s.Verify, s.Verified }),
		flat("full iteration peak heap flat", func(s sizeResult) (memResult, bool) { return s.Iteration, true }),
		flat("export peak heap flat", func(s sizeResult) (memResult, bool) { return s.Export, true }),
	)
	return ts
}

func (r results) header() string {
	sizes := make([]string, len(r.Sizes))
	for i, s := range r.Sizes {
		sizes[i] = human(s.Size)
	}
	if len(sizes) == 0 {
		sizes = []string{"(not run)"}
	}
	il := "off"
	if r.Interleaved != nil {
		il = human(r.Interleaved.Small) + " and " + human(r.Interleaved.Large)
	}
	return fmt.Sprintf("Machine: %s\nRun: %s; log sizes %s; interleaved sizes %s; %s events per ingest run; %d repetitions per query shape; %.0f s in all.\n"+
		"Load average (1, 5, 15 min, /proc/loadavg): %s at the start, %s at the end.",
		r.Machine, time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.Join(sizes, ", "), il,
		fmtCount(float64(r.Config.Ingest)), r.Config.Reps, r.Elapsed.Seconds(), r.LoadStart, r.LoadEnd)
}

func printText(w io.Writer, r results) {
	fmt.Fprintf(w, "auditbench\n%s\n\n", r.header())
	for _, t := range r.tables() {
		t.text(w)
	}
	if r.PG != nil {
		pgMarkdown(w, *r.PG)
	}
}

func markdown(r results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## auditbench\n\n")
	for _, line := range strings.Split(r.header(), "\n") {
		fmt.Fprintf(&b, "%s  \n", line)
	}
	fmt.Fprintf(&b, "Command: `go run ./cmd/auditbench %s`\n\n", strings.Join(redactArgs(os.Args[1:]), " "))
	for _, t := range r.tables() {
		t.markdown(&b)
	}
	if r.PG != nil {
		pgMarkdown(&b, *r.PG)
	}
	return b.String()
}

// dsnPassword matches the password of a PostgreSQL DSN, in URL form
// (user:PASSWORD@) or keyword form (password=PASSWORD).
var dsnPassword = regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]*(@)|(password=)('(?:[^'\\]|\\.)*'|\S*)`)

// redactArgs returns args with the passwords of DSNs replaced by "xxx", so
// that the command line printed with the figures gives no secret away.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = dsnPassword.ReplaceAllStringFunc(a, func(m string) string {
			sub := dsnPassword.FindStringSubmatch(m)
			if sub[1] != "" {
				return sub[1] + "xxx" + sub[2]
			}
			return sub[3] + "xxx"
		})
	}
	return out
}
