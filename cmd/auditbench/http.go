package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trailkit/audit"
)

// The handlers of the HTTP comparison, in the order they are reported.
const (
	hTrack      = "track"
	hInsert1    = "insert-1"
	hInsertPool = "insert-pool"
	hRecent     = "recent"
	hSelect     = "select"
)

var httpNames = map[string]string{
	hTrack:      "Track (one log.Track per request)",
	hInsert1:    "plain INSERT, pool of 1 connection",
	hInsertPool: "plain INSERT, pool of one connection per client",
	hRecent:     "Recent page of 50 with total, JSON",
	hSelect:     "plain SELECT of the newest 50 (six columns), JSON",
}

// httpConns are the concurrent client connections of each cell.
var httpConns = []int{1, 16, 64}

// httpCell is one handler at one concurrency.
type httpCell struct {
	Requests, Errors int
	Bytes            int64 // of the response bodies
	Dur              time.Duration
	lat              []time.Duration
	Median, P99      time.Duration
}

func (c *httpCell) Rate() float64 {
	if c == nil || c.Dur <= 0 {
		return 0
	}
	return float64(c.Requests) / c.Dur.Seconds()
}

type httpResults struct {
	Conns    []int
	Cell     time.Duration
	ReadRows int64
	Cells    map[string]map[int]*httpCell // by handler, then connections
}

// plainEntry is what the plain read handler writes for a row: the six
// columns an activity list shows.
type plainEntry struct {
	ID           string    `json:"id"`
	OccurredAt   time.Time `json:"occurred_at"`
	Action       string    `json:"action"`
	ActorID      string    `json:"actor_id"`
	ResourceType string    `json:"resource_type"`
	ResourceID   string    `json:"resource_id"`
}

const plainSixSQL = "SELECT id, occurred_at, action, actor_id, resource_type, resource_id FROM audit_events ORDER BY seq DESC LIMIT 50"

// runHTTP serves the write and read handlers from one in-process server on
// loopback and drives them from net/http clients in the same process.
// Writes: Track into a new log, against one autocommit INSERT per request
// into a new file with the log's audit_events table and indexes (rows
// copied from the read log, a fresh id each), same driver and pragmas as
// the ingest baselines; with the writer pool limited to 1 connection, and
// with as many connections as clients. Reads: a page of Recent with its
// total as JSON, against a plain SELECT of the newest 50 rows' six columns
// as JSON, on a log of cfg.HTTPRows rows, through a pool with the
// library's reader settings.
func runHTTP(ctx context.Context, dir string, cfg config) (*httpResults, error) {
	res := &httpResults{Conns: httpConns, Cell: cfg.HTTP, ReadRows: cfg.HTTPRows, Cells: map[string]map[int]*httpCell{}}

	// The read log.
	readPath := filepath.Join(dir, "http-read.db")
	rl, err := audit.Open(ctx, readPath, audit.WithMaxBatch(cfg.SeedBatch))
	if err != nil {
		return nil, err
	}
	defer rl.Close()
	logf("http: seeding the read log with %s rows", human(cfg.HTTPRows))
	if _, err := seed(ctx, rl, 0, cfg.HTTPRows, cfg.SeedWorkers); err != nil {
		return nil, err
	}
	if err := syncFiles(readPath, readPath+"-wal"); err != nil {
		return nil, err
	}
	plain, err := openPlainReader(ctx, readPath)
	if err != nil {
		return nil, err
	}
	defer plain.Close()
	six, err := plain.db.PrepareContext(ctx, plainSixSQL)
	if err != nil {
		return nil, err
	}
	defer six.Close()

	// Rows for the plain INSERT: the newest 4,096 of the read log, every
	// column but seq (SQLite assigns it), a new id for each request.
	ro, err := openReadOnly(readPath)
	if err != nil {
		return nil, err
	}
	defer ro.Close()
	ddl, err := eventsSchema(ctx, ro)
	if err != nil {
		return nil, err
	}
	tmpl, err := readRowsQuery(ctx, ro, `SELECT * FROM audit_events ORDER BY seq DESC LIMIT 4096`)
	if err != nil {
		return nil, err
	}
	seqCol, idCol := slices.Index(tmpl.Columns, "seq"), slices.Index(tmpl.Columns, "id")
	if seqCol < 0 || idCol < 0 {
		return nil, fmt.Errorf("http: audit_events has no seq or id column")
	}
	cols := slices.Delete(slices.Clone(tmpl.Columns), seqCol, seqCol+1)
	insertSQL := "INSERT INTO audit_events (" + strings.Join(cols, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"

	// The write targets.
	tl, err := audit.Open(ctx, filepath.Join(dir, "http-track.db"))
	if err != nil {
		return nil, err
	}
	defer tl.Close()
	ins1, err := newBaseline(ctx, filepath.Join(dir, "http-insert-1.db"), ddl)
	if err != nil {
		return nil, err
	}
	defer ins1.Close()
	ins1.SetMaxOpenConns(1)
	ins1.SetMaxIdleConns(1)
	insPool, err := newBaseline(ctx, filepath.Join(dir, "http-insert-pool.db"), ddl)
	if err != nil {
		return nil, err
	}
	defer insPool.Close()
	insPool.SetMaxOpenConns(slices.Max(httpConns))
	insPool.SetMaxIdleConns(slices.Max(httpConns))

	args := makeTrackArgs(8192, 4242)
	var next atomic.Int64
	fail := func(w http.ResponseWriter, err error) { http.Error(w, err.Error(), http.StatusInternalServerError) }
	insert := func(db *sql.DB) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			n := next.Add(1)
			src := tmpl.Rows[int(n)%len(tmpl.Rows)]
			vals := make([]any, 0, len(cols))
			for i, v := range src {
				switch i {
				case seqCol:
					continue
				case idCol:
					v = fmt.Sprint(v) + "-" + strconv.FormatInt(n, 36)
				}
				vals = append(vals, v)
			}
			if _, err := db.ExecContext(r.Context(), insertSQL, vals...); err != nil {
				fail(w, err)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /"+hTrack, func(w http.ResponseWriter, r *http.Request) {
		a := &args[int(next.Add(1))%len(args)]
		if _, err := tl.Track(r.Context(), a.actor, a.action, a.resource, a.opts...); err != nil {
			fail(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /"+hInsert1, insert(ins1.DB))
	mux.HandleFunc("POST /"+hInsertPool, insert(insPool.DB))
	mux.HandleFunc("GET /"+hRecent, func(w http.ResponseWriter, r *http.Request) {
		p, err := rl.Recent(r.Context(), audit.Query{PerPage: perPage})
		if err != nil {
			fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	})
	mux.HandleFunc("GET /"+hSelect, func(w http.ResponseWriter, r *http.Request) {
		rows, err := six.QueryContext(r.Context())
		if err != nil {
			fail(w, err)
			return
		}
		defer rows.Close()
		entries := make([]plainEntry, 0, perPage)
		for rows.Next() {
			var e plainEntry
			var at int64
			if err := rows.Scan(&e.ID, &at, &e.Action, &e.ActorID, &e.ResourceType, &e.ResourceID); err != nil {
				fail(w, err)
				return
			}
			e.OccurredAt = time.Unix(0, at).UTC()
			entries = append(entries, e)
		}
		if err := rows.Err(); err != nil {
			fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"entries": entries})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Each cell runs in two halves; the handlers of a group take turns
	// half by half, so that a slow spell of the machine falls on both.
	for _, group := range [][]string{{hTrack, hInsert1, hInsertPool}, {hRecent, hSelect}} {
		for _, conns := range httpConns {
			tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
			client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			for _, h := range group {
				if res.Cells[h] == nil {
					res.Cells[h] = map[int]*httpCell{}
				}
				res.Cells[h][conns] = &httpCell{}
				// Warm up: connections open, statements prepared.
				if err := drive(ctx, client, srv.URL, h, conns, 300*time.Millisecond, nil); err != nil {
					return nil, err
				}
			}
			for range 2 {
				for _, h := range group {
					if err := drive(ctx, client, srv.URL, h, conns, cfg.HTTP/2, res.Cells[h][conns]); err != nil {
						return nil, err
					}
				}
			}
			for _, h := range group {
				c := res.Cells[h][conns]
				if len(c.lat) > 0 {
					l := summarize(c.lat)
					c.Median, c.P99 = l.Median, l.P99
				}
				c.lat = nil
				logf("http: %-50s %2d conns: %8.0f req/s, median %6.0f µs, p99 %7.0f µs, %d errors", httpNames[h], conns, c.Rate(), us(c.Median), us(c.P99), c.Errors)
			}
			tr.CloseIdleConnections()
		}
	}
	return res, nil
}

// drive sends requests to handler h from conns goroutines, each waiting
// for its answer before sending the next, for dur; into cell (nil: a
// warm-up, not counted).
func drive(ctx context.Context, client *http.Client, base, h string, conns int, dur time.Duration, cell *httpCell) error {
	method := http.MethodGet
	if h == hTrack || h == hInsert1 || h == hInsertPool {
		method = http.MethodPost
	}
	url := base + "/" + h
	deadline := time.Now().Add(dur)
	lats := make([][]time.Duration, conns)
	errs := make([]int, conns)
	sizes := make([]int64, conns)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for g := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				req, err := http.NewRequestWithContext(ctx, method, url, nil)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("http %s: %w", h, err) })
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				sizes[g] += n
				resp.Body.Close()
				lats[g] = append(lats[g], time.Since(t0))
				if resp.StatusCode/100 != 2 {
					errs[g]++
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	if cell == nil {
		return nil
	}
	cell.Dur += elapsed
	for g := range conns {
		cell.Requests += len(lats[g])
		cell.lat = append(cell.lat, lats[g]...)
		cell.Errors += errs[g]
		cell.Bytes += sizes[g]
	}
	runtime.GC()
	return nil
}

// httpTables are the write and the read comparison.
func (r *httpResults) tables() []table {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()*1000) }
	ratio := func(a, b float64) string {
		if b <= 0 {
			return "-"
		}
		return fmtRatio(a / b)
	}
	errNote := func(hs ...string) string {
		var out []string
		for _, h := range hs {
			for _, c := range r.Conns {
				if x := r.Cells[h][c]; x != nil && x.Errors > 0 {
					out = append(out, fmt.Sprintf("%s at %d connections: %d errors", httpNames[h], c, x.Errors))
				}
			}
		}
		if len(out) == 0 {
			return " No request failed."
		}
		return " Failed requests (counted in the rates): " + strings.Join(out, "; ") + "."
	}
	w := table{
		Title: "HTTP, writes (requests/s; p99 ms)",
		Header: []string{"connections", "Track req/s", "Track p99", "INSERT, 1 conn req/s", "p99", "INSERT, pool req/s", "p99",
			"Track / INSERT 1 conn", "Track / INSERT pool"},
		Note: fmt.Sprintf("In-process server (net/http, httptest) on loopback, driven from the same process by net/http clients, one goroutine per connection, "+
			"each waiting for its answer; %s per cell in two halves, the handlers taking turns half by half, after 0.3 s of warm-up. "+
			"Track: one log.Track(r.Context(), ...) per request into a new log, 204 after the durable commit. "+
			"INSERT: one autocommit INSERT per request into a new file with the log's audit_events table and indexes (no triggers, no side tables), "+
			"same driver and pragmas (WAL, synchronous=NORMAL), rows copied from a log, a fresh id each; through a database/sql pool of 1 connection, "+
			"or of up to %d (one per client). Client and server share the machine's CPUs.",
			r.Cell, slices.Max(r.Conns)) + errNote(hTrack, hInsert1, hInsertPool),
	}
	for _, c := range r.Conns {
		t, a, b := r.Cells[hTrack][c], r.Cells[hInsert1][c], r.Cells[hInsertPool][c]
		w.Rows = append(w.Rows, []string{strconv.Itoa(c), fmtCount(t.Rate()), ms(t.P99), fmtCount(a.Rate()), ms(a.P99), fmtCount(b.Rate()), ms(b.P99),
			ratio(t.Rate(), a.Rate()), ratio(t.Rate(), b.Rate())})
	}
	rd := table{
		Title: "HTTP, reads (requests/s; p99 ms)",
		Header: []string{"connections", "Recent req/s", "Recent p99", "plain SELECT req/s", "p99", "Recent / plain (req/s)", "Recent / plain (p99)",
			"bytes/response Recent", "plain"},
		Note: fmt.Sprintf("Same server and clients, on a log of %s rows. Recent: Logger.Recent, a page of 50 with its exact total, "+
			"encoded as JSON (the Page). Plain: a prepared SELECT of the newest 50 rows' id, occurred_at, action, actor_id, resource_type, "+
			"resource_id through database/sql, with the library's reader settings and pool size, encoded as JSON; no total.",
			human(r.ReadRows)) + errNote(hRecent, hSelect),
	}
	for _, c := range r.Conns {
		a, b := r.Cells[hRecent][c], r.Cells[hSelect][c]
		rd.Rows = append(rd.Rows, []string{strconv.Itoa(c), fmtCount(a.Rate()), ms(a.P99), fmtCount(b.Rate()), ms(b.P99),
			ratio(a.Rate(), b.Rate()), ratio(float64(a.P99), float64(b.P99)), perResponse(a), perResponse(b)})
	}
	return []table{w, rd}
}

// perResponse is the mean size of a response body.
func perResponse(c *httpCell) string {
	if c == nil || c.Requests == 0 {
		return "-"
	}
	return fmtCount(float64(c.Bytes) / float64(c.Requests))
}
