package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trailkit/audit"
)

// The catalogue the generator draws from: 50 actions in dot-separated
// segments, 1,000 actors, 10,000 accounts (the resources, so ForAccount has
// something to find) and 2,000 projects (the targets).
var actionNames = []string{
	"billing.invoice.created", "billing.invoice.paid", "billing.invoice.voided", "billing.payment.failed",
	"billing.payment.refunded", "billing.subscription.created", "billing.subscription.cancelled",
	"billing.subscription.renewed", "billing.plan.changed", "billing.coupon.applied",
	"user.login.succeeded", "user.login.failed", "user.logout", "user.password.changed", "user.mfa.enabled",
	"user.mfa.disabled", "user.email.verified", "user.invited", "user.deleted", "user.role.changed",
	"project.created", "project.deleted", "project.renamed", "project.archived", "project.member.added",
	"project.member.removed", "project.settings.updated",
	"document.created", "document.viewed", "document.edited", "document.shared", "document.deleted",
	"api.key.created", "api.key.revoked", "api.token.issued", "webhook.endpoint.created", "webhook.delivery.failed",
	"org.settings.updated", "org.sso.configured", "org.domain.verified", "org.member.suspended",
	"deploy.release.started", "deploy.release.succeeded", "deploy.release.failed", "deploy.rollback.started",
	"storage.bucket.created", "storage.object.uploaded", "storage.object.deleted", "support.ticket.opened",
	"support.ticket.closed",
}

const (
	numActors    = 1000
	numAccounts  = 10000
	numProjects  = 2000
	systemPermil = 20 // events by the system (zero actor), per mille
)

var (
	actorRefs   = makeRefs(numActors, "user", "usr_%04d", "User %d")
	accountRefs = makeRefs(numAccounts, "account", "acct_%05d", "Account %d")
	projectRefs = makeRefs(numProjects, "project", "prj_%04d", "Project %d")
	userAgents  = []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36",
		"curl/8.7.1",
		"trailkit-sdk-go/1.4.0",
	}
	// baseTime is when the first generated event occurred; event i occurred
	// i*37ms later.
	baseTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

func makeRefs(n int, typ, idFormat, nameFormat string) []audit.Ref {
	refs := make([]audit.Ref, n)
	for i := range refs {
		refs[i] = audit.Ref{Type: typ, ID: fmt.Sprintf(idFormat, i), Name: fmt.Sprintf(nameFormat, i)}
	}
	return refs
}

// gen makes realistic events: actions, actors and accounts are drawn from
// Zipf distributions, so a few are hot and there is a long tail, as in a
// real log. A gen is not safe for concurrent use; give each goroutine one.
type gen struct {
	r                        *rand.Rand
	actions, actors, accts   *rand.Zipf
	projects                 *rand.Zipf
	ipA, ipB                 int
	requestIDBuf, amountsBuf []byte
}

func newGen(seed uint64) *gen {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &gen{
		r:        r,
		actions:  rand.NewZipf(r, 1.1, 3, uint64(len(actionNames)-1)),
		actors:   rand.NewZipf(r, 1.1, 1, numActors-1),
		accts:    rand.NewZipf(r, 1.1, 1, numAccounts-1),
		projects: rand.NewZipf(r, 1.2, 1, numProjects-1),
	}
}

// event returns the i-th generated event (i counts from 0 over the whole
// log, so OccurredAt grows with it).
func (g *gen) event(i int64) audit.Event {
	r := g.r
	e := audit.Event{
		Action:     actionNames[g.actions.Uint64()],
		Resource:   accountRefs[g.accts.Uint64()],
		OccurredAt: baseTime.Add(time.Duration(i) * 37 * time.Millisecond),
	}
	if r.IntN(1000) >= systemPermil {
		e.Actor = actorRefs[g.actors.Uint64()]
	}
	if r.IntN(5) == 0 {
		e.Targets = []audit.Ref{projectRefs[g.projects.Uint64()]}
	}
	if r.IntN(20) == 0 {
		e.Outcome = audit.OutcomeFailure
	}
	meta := map[string]any{
		"ip":         "10." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254)),
		"request_id": strconv.FormatUint(r.Uint64(), 16),
		"user_agent": userAgents[r.IntN(len(userAgents))],
	}
	if e.Action[0] == 'b' { // billing.*
		meta["amount_cents"] = r.IntN(500000)
		meta["currency"] = "EUR"
	}
	e.Metadata = meta
	return e
}

// trackArgs are the arguments of one Track call, built before the clock
// starts.
type trackArgs struct {
	actor, resource audit.Ref
	action          string
	opts            []audit.TrackOption
}

func makeTrackArgs(n int, seed uint64) []trackArgs {
	g := newGen(seed)
	out := make([]trackArgs, n)
	for i := range out {
		e := g.event(int64(i))
		opts := []audit.TrackOption{audit.WithMetadata(e.Metadata), audit.At(e.OccurredAt)}
		if len(e.Targets) > 0 {
			opts = append(opts, audit.WithTargets(e.Targets[0]))
		}
		if e.Outcome == audit.OutcomeFailure {
			opts = append(opts, audit.Failed())
		}
		out[i] = trackArgs{actor: e.Actor, resource: e.Resource, action: e.Action, opts: opts}
	}
	return out
}

// seed records events from..to-1 of the generated log through Record, from
// many goroutines at once, so that the writer commits them in large group
// commits (open the logger with audit.WithMaxBatch to make them larger).
// This is the bulk path of the suite: the public API, batched by the
// library itself.
func seed(ctx context.Context, l *audit.Logger, from, to int64, workers int) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	next.Store(from)
	var done atomic.Int64
	start := time.Now()
	stop := make(chan struct{})
	var progress sync.WaitGroup
	progress.Add(1)
	go func() {
		defer progress.Done()
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				n := done.Load()
				logf("  seeding: %d/%d rows, %.0f rows/s", from+n, to, float64(n)/time.Since(start).Seconds())
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newGen(uint64(from)*7919 + uint64(w) + 1)
			for {
				i := next.Add(1) - 1
				if i >= to || ctx.Err() != nil {
					return
				}
				if _, err := l.Record(ctx, g.event(i)); err != nil {
					cancel(fmt.Errorf("seed event %d: %w", i, err))
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	progress.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return 0, err
	}
	return time.Since(start), nil
}

var logStart = time.Now()

// logf prints a progress line to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] "+format+"\n", append([]any{time.Since(logStart).Seconds()}, args...)...)
}
