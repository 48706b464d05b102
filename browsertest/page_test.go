package browsertest

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/trailkit/audit"
	"github.com/trailkit/audit/audithttp"
)

// prefix is where the test mounts the handler, as an application would,
// behind http.StripPrefix.
const prefix = "/admin/audit"

// Strings that must show as text wherever they land.
var naughtyStrings = []string{
	`<script>alert("pwned")</script>`,
	`<img src=x onerror=alert(1)>`,
	`"><svg onload=alert(document.domain)>`,
	`javascript:alert(1)`,
	`{{7*7}} ${7*7} %s%n`,
	"\u202eevil override\u202c",
	`' OR '1'='1`,
}

// chromium returns the browser to drive: $AUDIT_CHROMIUM, else the first
// of Debian's and others' names found on PATH.
func chromium() string {
	if p := os.Getenv("AUDIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func artifacts(t *testing.T) string {
	dir := os.Getenv("AUDIT_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type fixture struct {
	l       *audit.Logger
	naughty map[string]audit.Event // by string: its actor name, resource ID and metadata
}

var (
	firstNames = []string{"Alice Moreau", "Bogdan Ilić", "Chen Wei", "Dana Levi", "Émile Durand", "Farah Haddad", "Gustav Berg", "Hana Sato"}
	actions    = []string{"user.login", "user.logout", "project.created", "project.updated", "project.deleted",
		"invoice.paid", "invoice.refunded", "member.invited", "member.removed", "api_key.rotated", "settings.changed"}
	resources = []string{"project", "invoice", "member", "api_key", "settings"}
)

// build writes n events spread over the last 30 days, and one per naughty
// string.
func build(t *testing.T, n int) fixture {
	t.Helper()
	ctx := t.Context()
	l, err := audit.Open(ctx, filepath.Join(t.TempDir(), "audit.db"), audit.WithRedactKeys())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	now := time.Now().UTC()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				u := i * 7919 % len(firstNames)
				act := actions[(i*31+u)%len(actions)]
				kind := resources[i%len(resources)]
				o := audit.Origin{IP: fmt.Sprintf("198.51.100.%d", i%250+1), UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/156", RequestID: fmt.Sprintf("req-%06d", i)}
				opts := []audit.TrackOption{
					audit.At(now.Add(-time.Duration(n-i) * 30 * 24 * time.Hour / time.Duration(n))),
					audit.WithTargets(audit.Ref{Type: "workspace", ID: fmt.Sprintf("ws-%d", i%4), Name: []string{"Marketing", "Engineering", "Finance", "Support"}[i%4]}),
					audit.WithMetadata(map[string]any{"plan": []string{"free", "team", "enterprise"}[i%3], "attempt": i % 5}),
				}
				if i%9 == 4 {
					opts = append(opts, audit.Failed(), audit.WithMeta("reason", "permission denied"))
				}
				_, err := l.Track(audit.ContextWithOrigin(ctx, o),
					audit.Ref{Type: "user", ID: fmt.Sprintf("usr_%02d", u), Name: firstNames[u]},
					act, audit.Ref{Type: kind, ID: fmt.Sprintf("%s_%03d", kind, i%97)}, opts...)
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	f := fixture{l: l, naughty: map[string]audit.Event{}}
	for i, s := range naughtyStrings {
		e, err := l.Record(ctx, audit.Event{
			Action:   "naughty.rendered",
			Actor:    audit.Ref{Type: "user", ID: fmt.Sprintf("naughty-%d", i), Name: s},
			Resource: audit.Ref{Type: "doc", ID: s, Name: s},
			Targets:  []audit.Ref{{Type: "tag", ID: s}},
			Metadata: map[string]any{"value": s, s: s},
			Origin:   audit.Origin{IP: "203.0.113.9", UserAgent: s},
		})
		if err != nil {
			t.Fatal(err)
		}
		f.naughty[s] = e
	}
	return f
}

// session is a tab in the browser and what it saw.
type session struct {
	t          *testing.T
	ctx        context.Context
	base       string
	dialogs    atomic.Int32
	mu         sync.Mutex
	exceptions []string
	console    []string
}

func (s *session) run(steps ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	if err := chromedp.Do(s.ctx, steps...); err != nil {
		s.t.Fatal(err)
	}
}

func eval[T any](s *session, js string) T {
	s.t.Helper()
	v, err := chromedp.Run(s.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		s.t.Fatalf("%s: %v", js, err)
	}
	return v
}

func (s *session) str(js string) string { s.t.Helper(); return eval[string](s, js) }

func (s *session) num(js string) int { s.t.Helper(); return eval[int](s, js) }

// call runs a DevTools command on the tab (browser: on the browser).
func call[P any](s *session, cmd cdp.Command[P, cdp.Empty], params P, browser bool) {
	s.t.Helper()
	var err error
	if browser {
		_, err = chromedp.CallBrowser(s.ctx, cmd, params)
	} else {
		_, err = chromedp.Call(s.ctx, cmd, params)
	}
	if err != nil {
		s.t.Fatalf("%s: %v", cmd.Method, err)
	}
}

// waitFor polls js until it is true.
func (s *session) waitFor(what, js string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := chromedp.Run(s.ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s (%s) at %s", what, js, s.str("location.href"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// navigate loads path (under the prefix) and waits for the page.
func (s *session) navigate(path string) {
	s.t.Helper()
	s.run(chromedp.Navigate(s.base + path))
	s.waitFor("the page", `document.readyState === "complete"`)
}

// click clicks sel and waits for the page it leads to.
func (s *session) click(sel string) {
	s.t.Helper()
	before := s.str("location.href")
	s.run(chromedp.Click(chromedp.CSS(sel)))
	s.waitFor("navigation from "+before, fmt.Sprintf(`location.href !== %q && document.readyState === "complete"`, before))
}

func (s *session) shot(dir, name string, full bool) {
	s.t.Helper()
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	buf, err := chromedp.Run(s.ctx, shot)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *session) total() int { return s.num(`+document.getElementById("total").dataset.total`) }

func (s *session) rowIDs() []string {
	return eval[[]string](s, `Array.from(document.querySelectorAll("#rows .c-action a")).map(a => a.getAttribute("href"))`)
}

func TestAdminPage(t *testing.T) {
	bin := chromium()
	if bin == "" {
		if os.Getenv("AUDIT_BROWSER_REQUIRED") == "1" {
			t.Fatal("no chromium found (AUDIT_BROWSER_REQUIRED=1): install Debian's chromium package (apt-get install chromium) or set AUDIT_CHROMIUM")
		}
		t.Skip("no chromium found: install Debian's chromium package (apt-get install chromium) or set AUDIT_CHROMIUM; AUDIT_BROWSER_REQUIRED=1 makes this a failure")
	}
	start := time.Now()
	dir := artifacts(t)
	f := build(t, 3000)
	l := f.l
	ctx := t.Context()
	t.Logf("log built in %v", time.Since(start).Round(time.Millisecond))

	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, audithttp.Handler(l, audithttp.WithTitle("Acme Cloud · Audit log"))))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	tctx, cancelT := context.WithTimeout(bctx, 90*time.Second)
	defer cancelT()
	s := &session{t: t, ctx: tctx, base: srv.URL + prefix}

	err := chromedp.Listen(tctx, func(ev any) {
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			s.dialogs.Add(1)
			go func() {
				_, _ = chromedp.Call(tctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		case *runtime.EventExceptionThrown:
			s.mu.Lock()
			s.exceptions = append(s.exceptions, ev.ExceptionDetails.Text)
			s.mu.Unlock()
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value))
			}
			s.mu.Lock()
			s.console = append(s.console, string(ev.Type)+": "+strings.Join(parts, " "))
			s.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	downloads := t.TempDir()
	call(s, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Berlin"}, false)
	call(s, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1280, Height: 900, DeviceScaleFactor: 1}, false)
	call(s, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}, true)
	// A violation of the CSP (an inline script or style) shows as a console error.
	if _, err := chromedp.Call(tctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `document.addEventListener("securitypolicyviolation", e => console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}

	// The list: exact total, local times, no errors.
	s.navigate("/")
	whole, err := l.Recent(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.total(); got != whole.TotalCount {
		t.Fatalf("total %d, want %d", got, whole.TotalCount)
	}
	if n := len(s.rowIDs()); n != 50 {
		t.Fatalf("%d rows, want 50", n)
	}
	if z := s.str(`document.getElementById("zone").textContent`); !strings.Contains(z, "Europe/Berlin") {
		t.Fatalf("zone %q", z)
	}
	if tx := s.str(`document.querySelector("#rows time").textContent`); strings.HasSuffix(tx, "UTC") {
		t.Fatalf("time %q not in the viewer's zone", tx)
	}
	s.shot(dir, "list-1280.png", false)

	// Paging: forward twice, back twice; the rows and the page number agree.
	page1 := s.rowIDs()
	s.click("#next")
	page2 := s.rowIDs()
	s.waitFor("page 2", `document.querySelector(".pager-info").textContent.includes("Page 2 of")`)
	s.click("#next")
	s.waitFor("page 3", `document.querySelector(".pager-info").textContent.includes("Page 3 of")`)
	if s.total() != whole.TotalCount {
		t.Fatal("the total changed while paging")
	}
	s.click("#prev")
	s.waitFor("page 2 again", `document.querySelector(".pager-info").textContent.includes("Page 2 of")`)
	if got := s.rowIDs(); strings.Join(got, ",") != strings.Join(page2, ",") {
		t.Fatal("page 2, reached back, differs")
	}
	s.click("#prev")
	if got := s.rowIDs(); strings.Join(got, ",") != strings.Join(page1, ",") {
		t.Fatal("page 1, reached back, differs")
	}
	if s.num(`document.querySelectorAll("#prev").length`) != 0 {
		t.Fatal("a previous link on page 1")
	}

	// Typeahead: type, see suggestions, pick the first with the keyboard.
	term := "gust"
	sugs, err := l.Suggest(ctx, term, 8)
	if err != nil || len(sugs) == 0 {
		t.Fatalf("suggest %q: %v %v", term, sugs, err)
	}
	s.run(chromedp.Click(chromedp.CSS("#search")), chromedp.SendKeys(chromedp.CSS("#search"), term))
	s.waitFor("suggestions", `!document.getElementById("suggestions").hidden && document.querySelectorAll("#suggestions [role=option][aria-selected]").length > 0`)
	if n := s.num(`document.querySelectorAll("#suggestions [role=option][aria-selected]").length`); n != len(sugs) {
		t.Fatalf("%d suggestions shown, want %d", n, len(sugs))
	}
	if e := s.str(`document.getElementById("search").getAttribute("aria-expanded")`); e != "true" {
		t.Fatalf("aria-expanded %q", e)
	}
	s.shot(dir, "typeahead-1280.png", false)
	s.run(chromedp.SendKeys(chromedp.CSS("#search"), kb.ArrowDown))
	s.waitFor("an active option", `document.getElementById("search").getAttribute("aria-activedescendant") === "sug-0"`)
	before := s.str("location.href")
	s.run(chromedp.SendKeys(chromedp.CSS("#search"), kb.Enter))
	s.waitFor("the pick's page", fmt.Sprintf(`location.href !== %q && document.readyState === "complete"`, before))
	pick := sugs[0]
	u, _ := url.Parse(s.str("location.href"))
	want := pick.Filter()
	switch pick.Kind {
	case audit.SuggestActor:
		if u.Query().Get("actor") != want.ActorID || u.Query().Get("actor_type") != want.ActorType {
			t.Fatalf("pick %+v led to %s", pick, u)
		}
	case audit.SuggestAction:
		if u.Query().Get("action") != want.Action {
			t.Fatalf("pick %+v led to %s", pick, u)
		}
	default:
		if u.Query().Get("subject") != want.Subject {
			t.Fatalf("pick %+v led to %s", pick, u)
		}
	}
	if u.Query().Has("search") {
		t.Fatalf("a pick is a filter, not a search: %s", u)
	}
	if got := s.total(); int64(got) != pick.Count {
		t.Fatalf("after the pick the total is %d, the suggestion said %d", got, pick.Count)
	}

	// Enter without a pick searches.
	s.navigate("/")
	s.run(chromedp.Click(chromedp.CSS("#search")), chromedp.SendKeys(chromedp.CSS("#search"), "invoice"))
	s.waitFor("suggestions", `!document.getElementById("suggestions").hidden`)
	before = s.str("location.href")
	s.run(chromedp.SendKeys(chromedp.CSS("#search"), kb.Enter))
	s.waitFor("the search", fmt.Sprintf(`location.href !== %q && document.readyState === "complete"`, before))
	if u, _ := url.Parse(s.str("location.href")); u.RawQuery != "search=invoice" {
		t.Fatalf("search submitted %q", u.RawQuery)
	}
	sp, _ := l.Recent(ctx, audit.Query{Search: "invoice"})
	if s.total() != sp.TotalCount {
		t.Fatalf("search total %d, want %d", s.total(), sp.TotalCount)
	}

	// The outcome filter, on top of the search.
	s.run(chromedp.Click(chromedp.CSS("details.more > summary")))
	s.run(chromedp.SetValue(chromedp.CSS("#f-outcome"), "failure"))
	s.click("#apply")
	if u, _ := url.Parse(s.str("location.href")); u.RawQuery != "outcome=failure&search=invoice" && u.RawQuery != "search=invoice&outcome=failure" {
		t.Fatalf("the form submitted %q (empty fields should be left out)", u.RawQuery)
	}
	fq := audit.Query{Search: "invoice", Outcome: audit.OutcomeFailure}
	fp, _ := l.Recent(ctx, fq)
	if s.total() != fp.TotalCount || fp.TotalCount == 0 {
		t.Fatalf("filtered total %d, want %d", s.total(), fp.TotalCount)
	}
	if n := s.num(`document.querySelectorAll("#rows .badge-success").length`); n != 0 {
		t.Fatalf("%d successes under outcome=failure", n)
	}
	if n := s.num(`document.querySelectorAll(".chip").length`); n != 2 {
		t.Fatalf("%d filter chips, want 2", n)
	}

	// Export of the current filters: a CSV download with every row.
	s.run(chromedp.Click(chromedp.CSS(`a[href^="api/export?"][href*="format=csv"]`)))
	file := waitDownload(t, downloads, ".csv")
	recs := readCSV(t, file)
	if len(recs)-1 != fp.TotalCount {
		t.Fatalf("export has %d rows, want %d", len(recs)-1, fp.TotalCount)
	}

	// The event view.
	s.click("#rows .c-action a")
	s.waitFor("the event", `document.querySelector("h1.event-title") !== null`)
	first := fp.Entries[0]
	if got := s.str(`document.querySelector("h1 .action-name").textContent`); got != first.Action {
		t.Fatalf("event title %q, want %q", got, first.Action)
	}
	body := s.str(`document.body.innerText`)
	for _, w := range []string{"Targets", "Metadata", "Integrity", "permission denied", first.Targets[0].ID, first.Origin.RequestID, first.ID} {
		if !strings.Contains(body, w) {
			t.Fatalf("the event view lacks %q", w)
		}
	}
	if got := s.str(`document.querySelectorAll("code.hash")[1].textContent`); got == "" || got == "—" {
		t.Fatal("no hash")
	}
	s.shot(dir, "detail-1280.png", true)

	// A phone.
	call(s, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true}, false)
	s.run(chromedp.Reload())
	s.waitFor("the page", `document.readyState === "complete"`)
	s.shot(dir, "detail-390.png", false)
	if w := s.num(`document.documentElement.scrollWidth`); w > 390 {
		t.Fatalf("the event view is %d px wide on a 390 px phone", w)
	}
	s.navigate("/")
	if w := s.num(`document.documentElement.scrollWidth`); w > 390 {
		t.Fatalf("the list is %d px wide on a 390 px phone", w)
	}
	s.shot(dir, "list-390.png", false)
	s.run(chromedp.ScrollIntoView(chromedp.CSS("#rows tr:nth-child(3)")))
	s.shot(dir, "list-390-rows.png", false)
	call(s, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1280, Height: 900, DeviceScaleFactor: 1}, false)

	// Naughty strings: text wherever they land, in the list and the view.
	for i, str := range naughtyStrings {
		e := f.naughty[str]
		s.navigate("/?actor=" + url.QueryEscape(e.Actor.ID))
		if got := s.str(`document.querySelector("#rows .c-ref .primary").textContent`); got != str {
			t.Fatalf("actor name %q shows as %q", str, got)
		}
		if got := s.str(`document.querySelectorAll("#rows .c-ref")[1].querySelector(".primary").textContent`); got != str {
			t.Fatalf("resource name %q shows as %q", str, got)
		}
		if i == 0 {
			s.shot(dir, "naughty-list-1280.png", false)
		}
		s.navigate("/events/" + e.ID)
		if got := s.str(`document.querySelector("#h-summary + dl dd .primary").textContent`); got != str {
			t.Fatalf("detail: actor name %q shows as %q", str, got)
		}
		var meta map[string]any
		if err := json.Unmarshal([]byte(s.str(`document.querySelector("pre.json").textContent`)), &meta); err != nil || meta["value"] != str {
			t.Fatalf("detail: metadata %v (%v)", meta, err)
		}
		if i == 0 {
			s.shot(dir, "naughty-detail-1280.png", true)
		}
	}
	if n := s.num(`document.querySelectorAll("svg, img[src=x], script:not([src])").length`); n != 0 {
		t.Fatalf("%d elements made from data", n)
	}

	// Live tail: turn it on, record events meanwhile, see them on top.
	s.navigate("/")
	total0 := s.total()
	s.run(chromedp.Click(chromedp.CSS("#live")))
	s.waitFor("the tail to connect", `document.getElementById("live").dataset.state === "open"`)
	tailName := `<img src=x onerror=alert("tail")>`
	var tailed []audit.Event
	for i := range 3 {
		e, err := l.Track(ctx, audit.Ref{Type: "user", ID: "tailer", Name: tailName}, "tail.observed", audit.Ref{Type: "doc", ID: fmt.Sprintf("live-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		tailed = append(tailed, e)
		s.waitFor("the tailed event on top", fmt.Sprintf(`document.querySelector("#rows .c-action a").getAttribute("href") === %q`, "events/"+e.ID))
	}
	s.waitFor("the total to go up", fmt.Sprintf(`+document.getElementById("total").dataset.total === %d`, total0+3))
	if shown, rows := s.str(`document.getElementById("shown-to").textContent`), s.num(`document.querySelectorAll("#rows tr").length`); shown != strconv.Itoa(rows) || rows != 53 {
		t.Fatalf("\"Showing 1–%s\" over %d rows, want 53 (50 and the 3 tailed)", shown, rows)
	}
	if got := s.str(`document.querySelector("#rows .c-ref .primary").textContent`); got != tailName {
		t.Fatalf("tailed actor name shows as %q", got)
	}
	if got := s.str(`document.querySelector("#rows time").getAttribute("datetime")`); got == "" {
		t.Fatal("tailed row without a time")
	}
	s.shot(dir, "tail-1280.png", false)
	call(s, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}, false)
	s.shot(dir, "tail-1280-dark.png", false)
	call(s, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}, false)
	s.run(chromedp.Click(chromedp.CSS("#live")))
	if p := s.str(`document.getElementById("live").getAttribute("aria-pressed")`); p != "false" {
		t.Fatalf("aria-pressed %q after turning the tail off", p)
	}
	s.click("#rows .c-action a")
	if got := s.str(`location.pathname`); got != prefix+"/events/"+tailed[2].ID {
		t.Fatalf("the tailed row links to %s", got)
	}

	// A date is midnight in the viewer's zone (Europe/Berlin here): the
	// script sends the zone with it, and the labels and the chip name it.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	s.navigate("/")
	if z := s.str(`document.querySelector(".date-zone").textContent`); z != "Europe/Berlin" {
		t.Fatalf("the date fields say %q, want the viewer's zone", z)
	}
	newest, _ := l.Recent(ctx, audit.Query{PerPage: 1})
	day := newest.Entries[0].OccurredAt.In(berlin).Format(time.DateOnly)
	s.run(chromedp.Click(chromedp.CSS("details.more > summary")))
	s.run(chromedp.SetValue(chromedp.CSS("#f-since"), day))
	s.click("#apply")
	u, _ = url.Parse(s.str("location.href"))
	if got := u.Query().Get("tz"); got != "Europe/Berlin" || u.Query().Get("since") != day {
		t.Fatalf("the form submitted %q, want since=%s with tz=Europe/Berlin", u.RawQuery, day)
	}
	midnight, _ := time.ParseInLocation(time.DateOnly, day, berlin)
	dp, _ := l.Recent(ctx, audit.Query{Since: midnight})
	if s.total() != dp.TotalCount || dp.TotalCount == 0 {
		t.Fatalf("since %s in Berlin: total %d, want %d", day, s.total(), dp.TotalCount)
	}
	if chip := s.str(`document.querySelector(".chip").textContent`); !strings.Contains(chip, day+" (Europe/Berlin)") {
		t.Fatalf("the date chip says %q", chip)
	}
	s.shot(dir, "date-filter-1280.png", false)

	// JavaScript off: paging and filters still work.
	call(s, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}, false)
	s.navigate("/?outcome=failure")
	s.click("#next")
	s.waitFor("page 2 without JavaScript", `document.querySelector(".pager-info").textContent.includes("Page 2 of")`)
	s.click("#prev")
	s.waitFor("page 1 without JavaScript", `document.querySelector(".pager-info").textContent.includes("Page 1 of")`)
	call(s, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}, false)

	if n := s.dialogs.Load(); n != 0 {
		t.Fatalf("%d JavaScript dialogs opened", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.exceptions) > 0 {
		t.Fatalf("uncaught exceptions: %q", s.exceptions)
	}
	for _, c := range s.console {
		if strings.HasPrefix(c, "error") {
			t.Fatalf("console error: %s", c)
		}
	}
	t.Logf("done in %v; screenshots in %s", time.Since(start).Round(time.Millisecond), dir)
}

// waitDownload waits for a finished file with suffix in dir.
func waitDownload(t *testing.T, dir, suffix string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), suffix) {
				return filepath.Join(dir, e.Name())
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	ents, _ := os.ReadDir(dir)
	t.Fatalf("no %s download in %s: %v", suffix, dir, ents)
	return ""
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	recs, err := csv.NewReader(bufio.NewReader(fh)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
