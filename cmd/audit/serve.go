package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/trailkit/audit"
	"github.com/trailkit/audit/audithttp"
)

func runServe(ctx context.Context, e *env, args []string) error {
	f := newFlags("serve", "[flags]", `Serves the admin page and the JSON API (package audithttp) for the log
--db, opened read-only, also while an application writes it; or, with
--demo, for a new demo log that keeps receiving events. Ctrl-C stops it
(exit 0). It has no login of its own: keep it on a loopback address, or
mount audithttp.Handler behind your application's authentication.`)
	var db, addr, tenant string
	var demo, allTenants, operator bool
	var demoEvents int
	var every time.Duration
	f.db(&db)
	f.string(&addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (port 0 picks a free one)")
	f.string(&tenant, "tenant", "", "serve the events of `TENANT` (default: the default tenant \"\")")
	f.bool(&allTenants, "all-tenants", "serve the events of every tenant")
	f.bool(&operator, "operator", "also serve the operator's endpoints: api/verify and\napi/checkpoint")
	f.bool(&demo, "demo", "serve a new demo log (at --db if given, which must not\nexist; else in a temporary directory) that keeps\nreceiving events")
	f.fs.IntVar(&demoEvents, "demo-events", 2500, "with --demo, start the log with `N` events")
	f.add("demo-events")
	f.duration(&every, "demo-every", 2*time.Second, "with --demo, track a new event about every `DURATION`")
	if _, err := f.parse(e, args, 0, 0); err != nil {
		return err
	}
	fl := filters{tenant: tenant, allTenants: allTenants}
	switch {
	case demoEvents < 0 || demoEvents > 1_000_000:
		return usagef("--demo-events %d: want 0 to 1000000", demoEvents)
	case every <= 0:
		return usagef("--demo-every %v: want a positive duration", every)
	case !demo && (set(f, "demo-events") || set(f, "demo-every")):
		return usagef("--demo-events and --demo-every need --demo")
	}

	var l *audit.Logger
	var err error
	if demo {
		if db == "" {
			dir, err := os.MkdirTemp("", "audit-demo-")
			if err != nil {
				return err
			}
			db = filepath.Join(dir, "audit.db")
		} else if _, err := os.Stat(db); err == nil {
			return usagef("%s exists: --demo creates a new database", db)
		}
		l, err = audit.Open(ctx, db)
	} else {
		l, err = openLog(ctx, db)
	}
	if err != nil {
		return err
	}
	defer l.Close()
	view, err := fl.view(l)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		fmt.Fprintf(e.stderr, "audit serve: warning: %s is not a loopback address; anyone who reaches it can read the log (there is no login)\n", ln.Addr())
	}

	if demo {
		fmt.Fprintf(e.stdout, "demo log: %s (writing %d events)\n", db, demoEvents)
		if err := seedDemo(ctx, l, demoEvents); err != nil {
			return err
		}
	}
	var opts []audithttp.Option
	if operator {
		opts = append(opts, audithttp.WithOperator())
	}
	srv := &http.Server{
		Handler:           audithttp.Handler(view, opts...),
		ReadHeaderTimeout: 10 * time.Second,
		// Requests end with the command: a live tail stops on Ctrl-C.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(e.stdout, "serving %s at http://%s/ (Ctrl-C to stop)\n", db, ln.Addr())

	var live chan error
	if demo {
		live = make(chan error, 1)
		go func() { live <- keepDemoLive(ctx, l, every) }()
	}
	select {
	case err = <-served:
	case err = <-live:
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdown); err == nil && !errors.Is(serr, context.Canceled) {
		err = serr
	}
	if live != nil && ctx.Err() != nil {
		<-live
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// set reports whether the flag name was given on the command line.
func set(f *flags, name string) bool {
	found := false
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == name {
			found = true
		}
	})
	return found
}

// The demo's world: a small company's users, API keys and projects.
var (
	demoUsers = []audit.Ref{
		{Type: "user", ID: "u_1001", Name: "Alice Martin"},
		{Type: "user", ID: "u_1002", Name: "Bob Chen"},
		{Type: "user", ID: "u_1003", Name: "Carla Díaz"},
		{Type: "user", ID: "u_1004", Name: "Dev Patel"},
		{Type: "user", ID: "u_1005", Name: "Eve Okafor"},
		{Type: "user", ID: "u_1006", Name: "Fumiko Sato"},
		{Type: "user", ID: "u_1007", Name: "Gustav Lind"},
		{Type: "user", ID: "u_1008", Name: "Hana Kowalski"},
	}
	demoKeys = []audit.Ref{
		{Type: "api_key", ID: "key_ci", Name: "CI deploys"},
		{Type: "api_key", ID: "key_sync", Name: "CRM sync"},
	}
	demoProjects = []audit.Ref{
		{Type: "project", ID: "prj_apollo", Name: "Apollo"},
		{Type: "project", ID: "prj_gemini", Name: "Gemini"},
		{Type: "project", ID: "prj_mercury", Name: "Mercury"},
		{Type: "project", ID: "prj_artemis", Name: "Artemis"},
	}
	demoAccount = audit.Ref{Type: "billing_account", ID: "acct_42", Name: "Acme Corp"}
	demoAgents  = []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	}
)

// demoEvent makes one plausible event of the demo company, occurring at
// at, with its request origin.
func demoEvent(r *rand.Rand, at time.Time) audit.Event {
	pick := func(refs []audit.Ref) audit.Ref { return refs[r.IntN(len(refs))] }
	user, project := pick(demoUsers), pick(demoProjects)
	e := audit.Event{Actor: user, OccurredAt: at}
	switch n := r.IntN(100); {
	case n < 30:
		e.Action, e.Resource = "user.signed_in", user
		if r.IntN(8) == 0 {
			e.Outcome = audit.OutcomeFailure
			e.Metadata = map[string]any{"reason": []string{"bad password", "expired MFA code", "locked account"}[r.IntN(3)]}
		} else {
			e.Metadata = map[string]any{"method": []string{"password", "sso", "passkey"}[r.IntN(3)]}
		}
	case n < 38:
		e.Action, e.Resource = "user.signed_out", user
	case n < 48:
		e.Action, e.Resource = "document.viewed", audit.Ref{Type: "document", ID: fmt.Sprintf("doc_%d", 100+r.IntN(40)), Name: fmt.Sprintf("%s spec v%d", project.Name, 1+r.IntN(5))}
		e.Targets = []audit.Ref{project}
	case n < 56:
		e.Action, e.Resource = "document.shared", audit.Ref{Type: "document", ID: fmt.Sprintf("doc_%d", 100+r.IntN(40)), Name: fmt.Sprintf("%s roadmap", project.Name)}
		e.Targets = []audit.Ref{pick(demoUsers)}
	case n < 64:
		e.Action, e.Resource = "project.member.added", project
		e.Targets = []audit.Ref{pick(demoUsers)}
		e.Metadata = map[string]any{"role": []string{"viewer", "editor", "admin"}[r.IntN(3)]}
	case n < 68:
		e.Action, e.Resource = "project.member.removed", project
		e.Targets = []audit.Ref{pick(demoUsers)}
	case n < 74:
		e.Action, e.Resource = "project.settings.updated", project
		e.Metadata = map[string]any{"field": []string{"visibility", "name", "retention_days"}[r.IntN(3)]}
	case n < 76:
		e.Action, e.Resource = "project.archived", project
	case n < 82:
		e.Actor, e.Action, e.Resource = pick(demoKeys), "deployment.created", project
		e.Metadata = map[string]any{"commit": fmt.Sprintf("%07x", r.IntN(1<<28)), "environment": []string{"staging", "production"}[r.IntN(2)]}
		if r.IntN(10) == 0 {
			e.Outcome = audit.OutcomeFailure
		}
	case n < 86:
		e.Actor, e.Action, e.Resource = audit.Ref{}, "billing.invoice.created", demoAccount
		e.Metadata = map[string]any{"amount": 100 * (5 + r.IntN(90)), "currency": "EUR"}
	case n < 90:
		e.Action, e.Resource = "billing.invoice.paid", demoAccount
		e.Metadata = map[string]any{"amount": 100 * (5 + r.IntN(90)), "currency": "EUR", "card": map[string]any{"brand": "visa", "last4": "4242"}}
	case n < 92:
		e.Action, e.Resource = "billing.plan.changed", demoAccount
		e.Metadata = map[string]any{"from": "team", "to": "business"}
	case n < 95:
		e.Action, e.Resource = "api_key.created", pick(demoKeys)
		e.Metadata = map[string]any{"scopes": []string{"deploy", "read"}, "token": "sk_live_redacted_before_disk"}
	case n < 97:
		e.Action, e.Resource = "user.password.changed", user
	default:
		e.Action, e.Resource = "user.mfa.enabled", user
	}
	if e.Actor.Type == "user" {
		e.Origin = audit.Origin{
			IP:        fmt.Sprintf("203.0.113.%d", 10+r.IntN(40)),
			UserAgent: demoAgents[r.IntN(len(demoAgents))],
			RequestID: fmt.Sprintf("req_%016x", r.Uint64()),
		}
	} else if e.Actor.Type == "api_key" {
		e.Origin = audit.Origin{IP: "198.51.100.7", UserAgent: "deploy-bot/2.3", RequestID: fmt.Sprintf("req_%016x", r.Uint64())}
	}
	return e
}

// seedDemo records n demo events spread over the last two weeks, oldest
// first.
func seedDemo(ctx context.Context, l *audit.Logger, n int) error {
	r := rand.New(rand.NewPCG(42, 7))
	now := time.Now()
	span := 14 * 24 * time.Hour
	for i := range n {
		at := now.Add(-span + time.Duration(float64(span)*float64(i)/float64(n)))
		if _, err := l.Record(ctx, demoEvent(r, at)); err != nil {
			return err
		}
	}
	return nil
}

// keepDemoLive records a new demo event about every every (between half
// and one and a half of it) until ctx ends.
func keepDemoLive(ctx context.Context, l *audit.Logger, every time.Duration) error {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for {
		wait := every/2 + time.Duration(r.Int64N(int64(every)))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if _, err := l.Record(context.WithoutCancel(ctx), demoEvent(r, time.Now())); err != nil {
			return err
		}
	}
}
