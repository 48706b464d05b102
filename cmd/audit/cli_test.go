package main_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

var commandNames = []string{"list", "get", "tail", "export", "verify", "verify-export", "checkpoint", "backup", "serve", "demo"}

// TestHelp: "audit help" lists every command; "--help" on each prints its
// usage and flags on stdout and exits with 0; no command is a usage error.
func TestHelp(t *testing.T) {
	t.Parallel()
	out := ok(t, "help")
	for _, name := range commandNames {
		require.Contains(t, out, "\n  "+name+" ")
	}
	require.Contains(t, out, "Exit codes: 0 success, 1 verification failed, 2 usage, 3 error")

	r := run(t)
	require.Equal(t, 2, r.code)
	require.Empty(t, r.stdout)
	require.Contains(t, r.stderr, "Commands:")

	flagsOf := map[string][]string{
		"list":          {"--db FILE", "--action ACTION", "--actor ID", "--actor-type TYPE", "--resource ID", "--resource-type TYPE", "--subject ID", "--subject-type TYPE", "--outcome success|failure", "--since TIME", "--until TIME", "--from-seq SEQ", "--to-seq SEQ", "--search TERM", "--tenant TENANT", "--all-tenants", "--order newest|oldest", "--per-page N", "--page N", "--after CURSOR", "--json"},
		"get":           {"--db FILE", "--tenant TENANT", "--all-tenants", "--json"},
		"tail":          {"--db FILE", "--action ACTION", "--since TIME", "--from-seq SEQ", "--all-tenants", "--last N", "--poll DURATION", "--json"},
		"export":        {"--db FILE", "--action ACTION", "--until TIME", "--to-seq SEQ", "--order newest|oldest", "--format csv|jsonl", "-o FILE", "--key FILE"},
		"verify":        {"--db FILE", "--checkpoint FILE", "--key FILE"},
		"verify-export": {"--key FILE"},
		"checkpoint":    {"--db FILE", "--key FILE"},
		"backup":        {"--db FILE"},
		"demo":          {"--db FILE"},
	}
	for _, name := range commandNames {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
			out := ok(t, args...)
			require.True(t, strings.HasPrefix(out, "Usage: audit "+name+" "), out)
			for _, f := range flagsOf[name] {
				require.Contains(t, out, "  "+f, "audit %s --help", name)
			}
		}
	}
	tail := ok(t, "tail", "--help")
	require.NotContains(t, tail, "--until")
	require.NotContains(t, tail, "--to-seq")
}

// TestUsageErrors: mistakes in the command line exit with 2, say what is
// wrong and where the help is, on stderr, and print nothing on stdout.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	garbage := filepath.Join(t.TempDir(), "garbage.key")
	require.NoError(t, os.WriteFile(garbage, []byte("not a key"), 0o600))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"list", "--db", fixture, "--frobnicate"}, "flag provided but not defined: -frobnicate"},
		{[]string{"list"}, "no log file: give --db FILE, or set AUDIT_DB"},
		{[]string{"verify", "--db", ""}, "no log file: give --db FILE, or set AUDIT_DB"},
		{[]string{"list", "--db", fixture, "extra"}, `unexpected argument "extra"`},
		{[]string{"get", "--db", fixture}, "missing argument: audit get [flags] ID"},
		{[]string{"get", "--db", fixture, "a", "b"}, `unexpected argument "b"`},
		{[]string{"backup", "--db", fixture}, "missing argument: audit backup [flags] DEST"},
		{[]string{"verify-export"}, "missing argument: audit verify-export [flags] FILE"},
		{[]string{"list", "--db", fixture, "--since", "yesterday"}, `invalid value "yesterday" for flag -since: want RFC 3339`},
		{[]string{"list", "--db", fixture, "--order", "random"}, "want newest or oldest"},
		{[]string{"list", "--db", fixture, "--per-page", "many"}, `invalid value "many" for flag -per-page`},
		{[]string{"list", "--db", fixture, "--outcome", "maybe"}, `invalid query: outcome "maybe"`},
		{[]string{"list", "--db", fixture, "--action", "billing.*"}, `invalid query: action "billing.*"`},
		{[]string{"list", "--db", fixture, "--subject", "x", "--resource", "y"}, "invalid query: subject with resource_id"},
		{[]string{"list", "--db", fixture, "--since", "2026-12-01", "--until", "2026-11-01"}, "invalid query: until"},
		{[]string{"list", "--db", fixture, "--after", "bogus"}, "invalid cursor"},
		{[]string{"list", "--db", fixture, "--tenant", "acme", "--all-tenants"}, "--tenant and --all-tenants: give one"},
		{[]string{"export", "--db", fixture, "--format", "xml"}, `--format "xml": want csv or jsonl`},
		{[]string{"tail", "--db", fixture, "--last", "-1"}, "--last -1"},
		{[]string{"tail", "--db", fixture, "--until", "2026-12-01"}, "flag provided but not defined: -until"},
		{[]string{"tail", "--db", fixture, "--last", "2", "--from-seq", "3"}, "--last and --from-seq: give one"},
		{[]string{"checkpoint", "--db", fixture, "--key", garbage}, "not an Ed25519 private key"},
		{[]string{"verify", "--db", fixture, "--key", garbage}, "not an Ed25519 public key"},
		{[]string{"demo", "--db", fixture}, "exists: the demo creates a new database"},
	} {
		r := run(t, c.args...)
		require.Equal(t, 2, r.code, "audit %s: %s", strings.Join(c.args, " "), r.stderr)
		require.Empty(t, r.stdout, c.args)
		require.Contains(t, r.stderr, c.want, c.args)
		if c.args[0] != "frobnicate" {
			require.Contains(t, r.stderr, "Run 'audit "+c.args[0]+" --help' for usage.", c.args)
			require.True(t, strings.HasPrefix(r.stderr, "audit "+c.args[0]+": "), r.stderr)
			require.Equal(t, 1, strings.Count(r.stderr, "audit:")+strings.Count(r.stderr, "audit "+c.args[0]+":"), r.stderr)
		}
	}
}

// TestAuditDBVariable: without --db, the log is $AUDIT_DB.
func TestAuditDBVariable(t *testing.T) {
	t.Parallel()
	cmd := execCommand(t, "list", "--per-page", "1")
	cmd.Env = append(cliEnv(), "AUDIT_DB="+fixture)
	out, err := cmd.Output()
	require.NoError(t, err)
	require.Contains(t, string(out), fmt.Sprintf("page 1 of %d", fixtureEvents/3))
}

// TestFileErrors: a file that cannot be read as a log exits with 3 and
// says why; nothing is created or changed.
func TestFileErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")

	junk := filepath.Join(dir, "junk.db")
	require.NoError(t, os.WriteFile(junk, []byte(strings.Repeat("not sqlite ", 1000)), 0o644))

	app := filepath.Join(dir, "app.db")
	db, err := sqlx.Open("sqlite", "file:"+app+"?_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `CREATE TABLE projects (id INTEGER PRIMARY KEY)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	newer := filepath.Join(dir, "newer.db")
	l, err := audit.Open(ctx, newer)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	db, err = sqlx.Open("sqlite", "file:"+newer)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO audit_schema_migrations (version, applied_at) VALUES (99, 0)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	sums := map[string][32]byte{}
	for _, p := range []string{junk, app, newer} {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		sums[p] = sha256.Sum256(raw)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "--db", missing}, "file does not exist: a read-only opening creates nothing"},
		{[]string{"verify", "--db", missing}, "file does not exist"},
		{[]string{"list", "--db", dir}, "a directory, not a database file"},
		{[]string{"list", "--db", junk}, "not a database"},
		{[]string{"list", "--db", app}, "no audit tables"},
		{[]string{"tail", "--db", app}, "no audit tables"},
		{[]string{"list", "--db", newer}, "schema version 99"},
		{[]string{"backup", "--db", fixture, fixture}, "file already exists"},
		{[]string{"export", "--db", fixture, "-o", filepath.Join(dir, "no", "such", "dir.jsonl")}, "no such file or directory"},
		{[]string{"verify-export", filepath.Join(dir, "missing.jsonl")}, "no such file or directory"},
		{[]string{"verify", "--db", fixture, "--checkpoint", filepath.Join(dir, "missing.txt")}, "no such file or directory"},
		{[]string{"verify", "--db", fixture, "--key", filepath.Join(dir, "missing.pem")}, "no such file or directory"},
	} {
		r := run(t, c.args...)
		require.Equal(t, 3, r.code, "audit %s: %s", strings.Join(c.args, " "), r.stderr)
		require.Empty(t, r.stdout, c.args)
		require.Contains(t, r.stderr, c.want, c.args)
		require.NotContains(t, r.stderr, "--help", c.args)
	}
	require.NoFileExists(t, missing)
	for p, sum := range sums {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, sum, sha256.Sum256(raw), "%s unchanged", p)
	}
}

// pageJSON is what list --json prints.
type pageJSON struct {
	Entries []struct {
		ID     string `json:"id"`
		Seq    int64  `json:"seq"`
		Tenant string `json:"tenant"`
	} `json:"entries"`
	Page       int    `json:"page"`
	PerPage    int    `json:"per_page"`
	TotalCount int    `json:"total_count"`
	TotalPages int    `json:"total_pages"`
	Next       string `json:"next"`
}

// TestListFilters: every filter flag of list selects what the library's
// Query selects on the same file: the same events in the same order, the
// same totals.
func TestListFilters(t *testing.T) {
	t.Parallel()
	l := openFixture(t)
	since := fixtureBase.Add(300 * time.Minute)
	until := fixtureBase.Add(900 * time.Minute)
	for _, c := range []struct {
		flags []string
		view  func(*audit.Logger) *audit.Logger
		q     audit.Query
	}{
		{nil, nil, audit.Query{}},
		{[]string{"--action", "project.deleted"}, nil, audit.Query{Action: "project.deleted"}},
		{[]string{"--actor", "3"}, nil, audit.Query{ActorID: "3"}},
		{[]string{"--actor-type", "api_key"}, nil, audit.Query{ActorType: "api_key"}},
		{[]string{"--actor-type", ""}, nil, audit.Query{}},
		{[]string{"--resource", "prj_5"}, nil, audit.Query{ResourceID: "prj_5"}},
		{[]string{"--resource-type", "billing_account"}, nil, audit.Query{ResourceType: "billing_account"}},
		{[]string{"--subject", "acct_0"}, nil, audit.Query{Subject: "acct_0"}},
		{[]string{"--subject", "acct_0", "--subject-type", "billing_account"}, nil, audit.Query{Subject: "acct_0", SubjectType: "billing_account"}},
		{[]string{"--outcome", "failure"}, nil, audit.Query{Outcome: audit.OutcomeFailure}},
		{[]string{"--since", since.Format(time.RFC3339)}, nil, audit.Query{Since: since}},
		{[]string{"--until", until.Format(time.RFC3339)}, nil, audit.Query{Until: until}},
		{[]string{"--since", "2026-11-01", "--until", "2026-11-01T12:00:00+01:00"}, nil,
			audit.Query{Since: fixtureBase, Until: fixtureBase.Add(11 * time.Hour)}},
		{[]string{"--from-seq", "100", "--to-seq", "400"}, nil, audit.Query{FromSeq: 100, ToSeq: 400}},
		{[]string{"--search", "INV"}, nil, audit.Query{Search: "INV"}},
		{[]string{"--search", "project"}, nil, audit.Query{Search: "project"}},
		{[]string{"--order", "oldest"}, nil, audit.Query{Order: audit.OldestFirst}},
		{[]string{"--tenant", "acme"}, func(l *audit.Logger) *audit.Logger { return l.WithTenant("acme") }, audit.Query{}},
		{[]string{"--all-tenants"}, (*audit.Logger).AllTenants, audit.Query{}},
		{[]string{"--all-tenants", "--outcome", "failure", "--action", "user.signed_in", "--order", "oldest"}, (*audit.Logger).AllTenants,
			audit.Query{Outcome: audit.OutcomeFailure, Action: "user.signed_in", Order: audit.OldestFirst}},
		{[]string{"--tenant", "globex", "--actor", "2", "--actor-type", "user", "--since", since.Format(time.RFC3339Nano), "--search", "shared"},
			func(l *audit.Logger) *audit.Logger { return l.WithTenant("globex") },
			audit.Query{ActorID: "2", ActorType: "user", Since: since, Search: "shared"}},
		{[]string{"--tenant", "nobody"}, func(l *audit.Logger) *audit.Logger { return l.WithTenant("nobody") }, audit.Query{}},
		{[]string{"--page", "3", "--per-page", "7"}, nil, audit.Query{Page: 3, PerPage: 7}},
	} {
		v := l
		if c.view != nil {
			v = c.view(l)
		}
		if c.q.PerPage == 0 {
			c.q.PerPage = audit.MaxPerPage
			c.flags = append(c.flags, "--per-page", "1000")
		}
		want, err := v.Recent(t.Context(), c.q)
		require.NoError(t, err)
		var got pageJSON
		require.NoError(t, json.Unmarshal([]byte(ok(t, append([]string{"list", "--db", fixture, "--json"}, c.flags...)...)), &got), c.flags)
		require.Equal(t, want.TotalCount, got.TotalCount, c.flags)
		require.Equal(t, want.TotalPages, got.TotalPages, c.flags)
		require.Equal(t, want.Page, got.Page, c.flags)
		require.Len(t, got.Entries, len(want.Entries), c.flags)
		for i, e := range want.Entries {
			require.Equal(t, e.ID, got.Entries[i].ID, c.flags)
			require.Equal(t, e.Tenant, got.Entries[i].Tenant, c.flags)
		}
		require.Equal(t, want.Next != "", got.Next != "", c.flags)
	}

	// "7d" and friends are times before now: the fixture lies in the past.
	var got pageJSON
	require.NoError(t, json.Unmarshal([]byte(ok(t, "list", "--db", fixture, "--json", "--all-tenants", "--since", "36500d")), &got))
	require.Equal(t, fixtureEvents, got.TotalCount)
	require.NoError(t, json.Unmarshal([]byte(ok(t, "list", "--db", fixture, "--json", "--all-tenants", "--until", "1h")), &got))
	require.Equal(t, fixtureEvents, got.TotalCount)
}

// TestListTableAndPaging: the table has one line per event, the totals
// and the cursor of the next page, which "--after" follows as the
// library does.
func TestListTableAndPaging(t *testing.T) {
	t.Parallel()
	l := openFixture(t).AllTenants()
	q := audit.Query{PerPage: 4, Outcome: audit.OutcomeFailure}
	page1, err := l.Recent(t.Context(), q)
	require.NoError(t, err)
	args := []string{"list", "--db", fixture, "--all-tenants", "--per-page", "4", "--outcome", "failure"}
	out := ok(t, args...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 1+4+2, out)
	require.Regexp(t, `^SEQ +TENANT +OCCURRED \(UTC\) +ACTION +ACTOR +RESOURCE +OUTCOME +ID$`, lines[0])
	for i, e := range page1.Entries {
		fields := strings.Fields(lines[1+i])
		require.Equal(t, fmt.Sprint(e.Seq), fields[0])
		require.Equal(t, e.ID, fields[len(fields)-1])
		require.Contains(t, lines[1+i], e.OccurredAt.UTC().Format("2006-01-02 15:04:05"))
		require.Contains(t, lines[1+i], "  "+e.Action+"  ")
		require.Contains(t, lines[1+i], "  failure  ")
	}
	require.Equal(t, fmt.Sprintf("page 1 of %d, %d events", page1.TotalPages, page1.TotalCount), lines[5])
	require.Equal(t, "next page: --after "+page1.Next, lines[6])

	page2, err := l.Recent(t.Context(), audit.Query{PerPage: 4, Outcome: audit.OutcomeFailure, After: page1.Next})
	require.NoError(t, err)
	out = ok(t, append(args, "--after", page1.Next)...)
	require.Contains(t, out, fmt.Sprintf("page 2 of %d", page2.TotalPages))
	for _, e := range page2.Entries {
		require.Contains(t, out, e.ID)
	}
	require.Contains(t, out, "next page: --after "+page2.Next)

	// A cursor of another query is refused; an empty result says so.
	r := run(t, "list", "--db", fixture, "--all-tenants", "--per-page", "4", "--after", page1.Next)
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "made for another query")
	require.Equal(t, "no events\n", ok(t, "list", "--db", fixture, "--tenant", "nobody"))
	require.Contains(t, ok(t, "list", "--db", fixture, "--page", "999"), "page 999 of 4 is past the end: 200 events")

	// The root view's table has no tenant column.
	out = ok(t, "list", "--db", fixture, "--per-page", "1")
	require.Regexp(t, `^SEQ +OCCURRED \(UTC\) +ACTION`, out)
}

// TestGet: get prints every field of an event, or its JSON; an id the
// view does not hold exits with 4.
func TestGet(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, path := newLog(t)
	e, err := l.WithTenant("acme").Track(ctx, audit.Ref{Type: "user", ID: "42", Name: "Zoë"}, "billing.invoice.paid",
		audit.Ref{Type: "invoice", ID: "inv_1"},
		audit.WithTargets(audit.Ref{Type: "billing_account", ID: "acct_1", Name: "Acme"}, audit.Ref{Type: "user", ID: "7"}),
		audit.WithMetadata(map[string]any{"amount": 4200, "note": "paid\tin full", "password": "hunter2"}),
		audit.WithIdempotencyKey("evt_1"),
		audit.At(time.Date(2026, 11, 5, 10, 0, 0, 123, time.UTC)))
	require.NoError(t, err)
	require.NoError(t, l.Close())

	out := ok(t, "get", "--db", path, "--tenant", "acme", e.ID)
	for _, want := range []string{
		"id               " + e.ID,
		"seq              1",
		"tenant           acme",
		"occurred_at      2026-11-05T10:00:00.000000123Z",
		"action           billing.invoice.paid",
		"actor            user:42 (Zoë)",
		"resource         invoice:inv_1",
		"targets          billing_account:acct_1 (Acme)\n                 user:7\n",
		"outcome          success",
		`metadata         {`,
		`                   "amount": 4200,`,
		`                   "note": "paid\tin full",`,
		`                   "password": "[REDACTED]"`,
		"idempotency_key  evt_1",
		"chain_version    3",
		fmt.Sprintf("hash             %x", e.Hash),
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "hunter2")

	var got audit.Event
	require.NoError(t, json.Unmarshal([]byte(ok(t, "get", "--db", path, "--all-tenants", "--json", e.ID)), &got))
	require.Equal(t, e.ID, got.ID)
	require.Equal(t, e.Hash, got.Hash)
	require.Equal(t, e.Targets, got.Targets)
	require.True(t, e.OccurredAt.Equal(got.OccurredAt))

	// Flags after the id parse too.
	require.Contains(t, ok(t, "get", e.ID, "--db", path, "--all-tenants"), "tenant           acme")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "--db", path, e.ID}, `no event "` + e.ID + `" in the default tenant "" (--all-tenants looks in every tenant)`},
		{[]string{"get", "--db", path, "--tenant", "globex", e.ID}, `no event "` + e.ID + `" in tenant "globex"`},
		{[]string{"get", "--db", path, "--all-tenants", "nope"}, `no event "nope" in any tenant`},
	} {
		r := run(t, c.args...)
		require.Equal(t, 4, r.code, r.stderr)
		require.Empty(t, r.stdout)
		require.Contains(t, r.stderr, "audit get: not found: "+c.want)
	}
}

// TestDemo: demo writes a new log, which the other commands then read.
func TestDemo(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "demo.db")
	out := ok(t, "demo", "--db", path)
	require.Contains(t, out, "Recent(PerPage: 5): page 1 of 3, 12 events in all")
	require.Contains(t, out, "Verify: {Checked:12 OK:true FirstBad:0 Reason:}")
	require.Contains(t, ok(t, "list", "--db", path), "page 1 of 1, 12 events")
	require.Contains(t, ok(t, "verify", "--db", path), "OK: 12 events verified")
}
