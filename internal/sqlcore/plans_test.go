package sqlcore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

// sqliteLike is the SQLite dialect, for the plans (errors are not needed).
type sqliteLike struct{}

func (sqliteLike) Rebind(query string) string     { return query }
func (sqliteLike) Args(args []any) []any          { return args }
func (sqliteLike) IndexedBy(index string) string  { return "INDEXED BY " + index }
func (sqliteLike) Unindexed(column string) string { return "+" + column }
func (sqliteLike) MaxText(expr string) string     { return "max(" + expr + ")" }
func (sqliteLike) Classify(err error) error       { return err }
func (sqliteLike) IsConstraint(error) bool        { return false }
func (sqliteLike) TargetsOf() string              { return "" }
func (sqliteLike) OrderedJoin(table, alias, on string) string {
	return "CROSS JOIN " + table + " " + alias + " ON " + on
}
func (sqliteLike) NotIn(row, _ []string, query string) string {
	return "(" + strings.Join(row, ", ") + ") NOT IN (" + query + ")"
}

// schemaDB returns a new SQLite database with the audit schema: every
// migration of the root package's schema.sql, in order.
func schemaDB(t *testing.T) *sqlx.DB {
	t.Helper()
	schema, err := os.ReadFile(filepath.Join("..", "..", "schema.sql"))
	require.NoError(t, err)
	db, err := sqlx.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "plans.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.ExecContext(t.Context(), string(schema))
	require.NoError(t, err)
	return db
}

// TestQueryPlans pins the index every query shape uses, so that a change of
// schema or SQL cannot quietly turn a lookup into a scan of the log.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	db := schemaDB(t)
	s := &Store[struct{}]{Dialect: sqliteLike{}}
	var plan func(query string, args ...any) string
	sqlPlan := func(q string, args []any) string { return plan(q, args...) }
	plan = func(query string, args ...any) string {
		rows, err := db.QueryxContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	list := func(f Filter, actions ...string) string {
		var ac []ActionCount
		for _, a := range actions {
			ac = append(ac, ActionCount{Action: a})
		}
		q, args := s.listSQL(f, ac, 100, 0, 51)
		return plan(q, args...)
	}
	walkTenant := func(f Filter, cursor int64) string {
		q, args := s.walkTenantSQL(f, cursor, 0, 51)
		return plan(q, args...)
	}
	for _, c := range []struct {
		name, plan, want string
	}{
		{"get", sqlPlan(s.getSQL(Filter{Tenant: "t"}, "id")), "USING INDEX audit_events_id (id=?)"},
		{"idempotency", plan(sqlByKey, "t", "k"), "USING INDEX audit_events_idempotency (tenant=? AND idempotency_key=?)"},
		{"head", plan(sqlHead), "SCAN audit_events"},
		{"recent", list(Filter{Tenant: "t"}), "USING INDEX audit_events_tenant (tenant=? AND rowid<?)"},
		{"action", list(Filter{Tenant: "t", Action: "a"}), "USING INDEX audit_events_action (tenant=? AND action=? AND rowid<?)"},
		{"actor", list(Filter{Tenant: "t", ActorID: "a"}), "USING INDEX audit_events_actor (tenant=? AND actor_id=? AND rowid<?)"},
		{"resource", list(Filter{Tenant: "t", ResourceID: "r"}), "USING INDEX audit_events_resource (tenant=? AND resource_id=? AND rowid<?)"},
		{"search", list(Filter{Tenant: "t", Search: "a"}, "a.b", "a.c"), "USING INDEX audit_events_action (tenant=? AND action=? AND rowid<?)"},
		{"oldest first", list(Filter{Tenant: "t", OldestFirst: true}), "USING INDEX audit_events_tenant (tenant=? AND rowid>?)"},
		{"tenant and log totals", plan(sqlTenantTotal, "t", kindTotal, ""), "SEARCH c USING PRIMARY KEY (tenant=? AND kind=? AND key=?)"},
		// The counts' views add the events after the fold: an index range
		// past its seq.
		{"tenant total, since the fold", plan(sqlTenantTotal, "t", kindTotal, ""), "SEARCH e USING COVERING INDEX audit_events_tenant (tenant=? AND rowid>?)"},
		{"action total, since the fold", plan(sqlCounter, "t", kindAction, "a"), "SEARCH e USING COVERING INDEX audit_events_action (tenant=? AND action=? AND rowid>?)"},
		{"failures, since the fold", plan(sqlCounter, "t", kindFailure, ""), "SEARCH e USING COVERING INDEX audit_events_failures (tenant=? AND rowid>?)"},
		{"target total, since the fold", plan(sqlCounter, "t", kindTarget, "x"), "SEARCH t USING PRIMARY KEY (tenant=? AND id=? AND seq>?)"},
		{"actor total, since the fold", plan(sqlRefsOf, "t", kindActor, "a"), "SEARCH e USING INDEX audit_events_actor (tenant=? AND actor_id=? AND rowid>?)"},
		{"resource total, since the fold", plan(sqlRefsOf, "t", kindResource, "a"), "SEARCH e USING INDEX audit_events_resource (tenant=? AND resource_id=? AND rowid>?)"},
		{"target ref total, since the fold", plan(sqlRefsOf, "t", kindTarget, "a"), "SEARCH t USING PRIMARY KEY (tenant=? AND id=? AND seq>?)"},
		{"tenant and log totals", plan(sqlTenantTotal, "t", kindTotal, ""), "SEARCH audit_events"},
		{"recent, walked", walkTenant(Filter{Tenant: "t"}, 0), "SEARCH audit_events USING INTEGER PRIMARY KEY (rowid<?)"},
		{"recent by cursor, walked", walkTenant(Filter{Tenant: "t"}, 100), "SEARCH audit_events USING INTEGER PRIMARY KEY (rowid<?)"},
		{"oldest first, walked", walkTenant(Filter{Tenant: "t", OldestFirst: true}, 0), "SEARCH audit_events USING INTEGER PRIMARY KEY (rowid>?)"},
		{"oldest first by cursor, walked", walkTenant(Filter{Tenant: "t", OldestFirst: true}, 100), "SEARCH audit_events USING INTEGER PRIMARY KEY (rowid>?)"},
		{"actor, oldest first", list(Filter{Tenant: "t", ActorID: "a", OldestFirst: true}), "USING INDEX audit_events_actor (tenant=? AND actor_id=? AND rowid>?)"},
		{"actor and type", list(Filter{Tenant: "t", ActorID: "a", ActorType: "user"}), "USING INDEX audit_events_actor (tenant=? AND actor_id=? AND rowid<?)"},
		{"actor type", list(Filter{Tenant: "t", ActorType: "user"}), "USING INDEX audit_events_tenant (tenant=? AND rowid<?)"},
		{"failures", list(Filter{Tenant: "t", Outcome: OutcomeFailure}), "USING INDEX audit_events_failures (tenant=? AND rowid<?)"},
		{"successes", list(Filter{Tenant: "t", Outcome: OutcomeSuccess}), "USING INDEX audit_events_tenant (tenant=? AND rowid<?)"},
		{"seq range", list(Filter{Tenant: "t", FromSeq: 10, ToSeq: 90}), "USING INDEX audit_events_tenant (tenant=? AND rowid>? AND rowid<?)"},
		{"subject, resource arm", list(Filter{Tenant: "t", Subject: "acct"}), "USING COVERING INDEX audit_events_resource (tenant=? AND resource_id=? AND rowid<?)"},
		{"subject, target arm", list(Filter{Tenant: "t", Subject: "acct"}), "SEARCH t USING PRIMARY KEY (tenant=? AND id=? AND seq<?)"},
		{"subject of a type", list(Filter{Tenant: "t", Subject: "acct", SubjectType: "account"}), "SEARCH t USING PRIMARY KEY (tenant=? AND id=? AND seq<?)"},
		{"subject, failures", list(Filter{Tenant: "t", Subject: "acct", Outcome: OutcomeFailure}), "SEARCH t USING PRIMARY KEY (tenant=? AND id=? AND seq<?)"},
		{"suggest, name terms", sqlPlan(s.suggestTenantSQL("t", "ac", 10, 10)), "SEARCH audit_ref_terms USING PRIMARY KEY (tenant=? AND term>? AND term<?); SCAN t; SEARCH r USING PRIMARY KEY (tenant=? AND kind=? AND id=? AND type=?)"},
		{"suggest, ID ranges", sqlPlan(s.suggestTenantSQL("t", "ac", 10, 10)), "SEARCH r USING PRIMARY KEY (tenant=? AND kind=? AND id>? AND id<?)"},
		{"subject count", sqlPlan(s.subjectSQL(Filter{Tenant: "t", Subject: "acct", Since: time.Unix(1, 0)}, "", nil, 0, 0)), "SEARCH t USING PRIMARY KEY (tenant=? AND id=?)"},
	} {
		require.Contains(t, c.plan, c.want, c.name)
		if c.name != "head" {
			require.NotRegexp(t, `SCAN audit_events($|;| )`, c.plan, c.name)
		}
	}

	// A keystroke's suggestions stream range reads to the merge in Go: no
	// sorting or grouping in SQL past the actions' (the few that match, as
	// Actions sorts them), every range read in its index's order.
	_, refs, ok := strings.Cut(sqlPlan(s.suggestTenantSQL("t", "ac", 10, 10)), "SCAN act; ")
	require.True(t, ok)
	require.NotContains(t, refs, "TEMP B-TREE")

	// Every tenant (the AllTenants view). Each shape's plan must use all
	// of its wants, in order, and never scan the log.
	all := Filter{AllTenants: true}
	with := func(f Filter, set func(*Filter)) Filter { set(&f); return f }
	action := with(all, func(f *Filter) { f.Action = "a" })
	actor := with(all, func(f *Filter) { f.ActorID = "u" })
	resource := with(all, func(f *Filter) { f.ResourceID = "r" })
	search := with(all, func(f *Filter) { f.Search = "a" })
	timed := with(all, func(f *Filter) { f.Since = time.Unix(1, 0) })
	arms := func(f Filter, tenantActions ...string) string {
		var a []arm
		for _, ta := range tenantActions {
			tenant, act, _ := strings.Cut(ta, "/")
			a = append(a, arm{tenant: tenant, action: act})
		}
		q, args := armsSQL(f, a, 100, 0, 51)
		return plan(q, args...)
	}
	collect := func(f Filter, keys []filterKey) string {
		q, args := s.allTenantsSQL("seq", f, keys, 100)
		return plan(q+` ORDER BY seq DESC LIMIT 51 OFFSET 0`, args...)
	}
	count := func(f Filter, keys []filterKey) string {
		q, args := s.allTenantsSQL("count(*)", f, keys, 0)
		return plan(q, args...)
	}
	walk := func(f Filter, before int64) string {
		q, args := walkSQL(f, before, 0, 51)
		return plan(q, args...)
	}
	const byKey = "USING COVERING INDEX audit_counts_key (kind=? AND key=?)"
	const refsByKey = "USING INDEX audit_refs_key (kind=? AND id=?)"
	subject := with(all, func(f *Filter) { f.Subject = "acct" })
	by := func(f Filter) string {
		q, args := s.allTenantsBySQL(Columns, f, "", nil, 100, 51)
		return plan(q, args...)
	}
	for _, c := range []struct {
		name, plan string
		want       []string
	}{
		{"get, every tenant", sqlPlan(s.getSQL(all, "id")), []string{"USING INDEX audit_events_id (id=?)"}},
		{"total of the log", plan(sqlLogTotal), []string{"SEARCH audit_events"}},
		{"tenants of a key", sqlPlan(keyTenants(filterKey{kind: "action", key: "a"})), []string{
			"USING INDEX audit_counts_key (kind=? AND key=?)", "USING PRIMARY KEY (tenant=? AND kind=? AND key=?)"}},
		{"pairs of a search term", sqlPlan(s.searchArmsSQL("a")), []string{
			"USING COVERING INDEX audit_action_terms_term (term>? AND term<?)", "USING PRIMARY KEY (tenant=? AND kind=? AND key=?)"}},
		{"actions", sqlPlan(actionsAllTenantsSQL("a", 10)), []string{
			"USING INDEX audit_counts_key (kind=? AND key=?)", "USING COVERING INDEX audit_action_terms_term (term>? AND term<?)"}},
		{"recent", walk(all, 0), []string{"USING INTEGER PRIMARY KEY (rowid<?)"}},
		{"recent by cursor", walk(all, 100), []string{"USING INTEGER PRIMARY KEY (rowid<?)"}},
		{"dense key, walked", walk(action, 0), []string{"USING INTEGER PRIMARY KEY (rowid<?)"}},
		{"dense search, walked", walk(search, 0), []string{"USING INTEGER PRIMARY KEY (rowid<?)",
			"USING COVERING INDEX audit_action_terms_term (term>? AND term<?)"}},
		{"action, arms", arms(action, "t1", "t2"), []string{
			"USING INTEGER PRIMARY KEY (rowid=?)", "USING COVERING INDEX audit_events_action (tenant=? AND action=? AND rowid<?)"}},
		{"actor, arms", arms(actor, "t1", "t2"), []string{"USING COVERING INDEX audit_events_actor (tenant=? AND actor_id=? AND rowid<?)"}},
		{"resource, arms", arms(resource, "t1", "t2"), []string{"USING COVERING INDEX audit_events_resource (tenant=? AND resource_id=? AND rowid<?)"}},
		{"search, arms", arms(search, "t1/a.b", "t2/a.c"), []string{"USING COVERING INDEX audit_events_action (tenant=? AND action=? AND rowid<?)"}},
		{"action, collected", collect(action, action.keys()), []string{
			"USING COVERING INDEX audit_events_action (tenant=? AND action=? AND rowid<?)", byKey}},
		{"actor, collected", collect(actor, actor.keys()), []string{
			"USING COVERING INDEX audit_events_actor (tenant=? AND actor_id=? AND rowid<?)", refsByKey}},
		{"resource, collected", collect(resource, resource.keys()), []string{
			"USING COVERING INDEX audit_events_resource (tenant=? AND resource_id=? AND rowid<?)", refsByKey}},
		{"tenants of an actor", sqlPlan(keyTenants(filterKey{kind: "actor", key: "u"})), []string{
			"USING INDEX audit_refs_key (kind=? AND id=?)", "USING PRIMARY KEY (tenant=? AND kind=? AND id=?)"}},
		{"subject, every tenant", by(subject), []string{
			"USING COVERING INDEX audit_events_resource (tenant=? AND resource_id=? AND rowid<?)", refsByKey,
			"SEARCH t USING PRIMARY KEY (tenant=? AND id=? AND seq<?)", byKey}},
		{"subject of a type, every tenant", by(with(subject, func(f *Filter) { f.SubjectType = "account" })), []string{
			"USING INDEX audit_events_resource (tenant=? AND resource_id=? AND rowid<?)", refsByKey,
			"SEARCH t USING PRIMARY KEY (tenant=? AND id=? AND seq<?)", refsByKey}},
		{"suggest, every tenant", sqlPlan(s.suggestRefsSQL(all, "ac", 10)), []string{
			"USING COVERING INDEX audit_ref_terms_term (term>? AND term<?)", "USING INDEX audit_refs_key (kind=? AND id=?)",
			"USING PRIMARY KEY (tenant=? AND kind=? AND id=? AND type=?)"}},
		{"failures, every tenant", by(with(all, func(f *Filter) { f.Outcome = OutcomeFailure })), []string{
			"USING INDEX audit_events_failures_all (outcome=? AND rowid<?)"}},
		{"oldest first, every tenant", walk(with(all, func(f *Filter) { f.OldestFirst = true }), 10), []string{
			"USING INTEGER PRIMARY KEY (rowid>?)"}},
		{"search, collected", collect(search, nil), []string{
			"USING COVERING INDEX audit_events_action (tenant=? AND action=? AND rowid<?)",
			"USING COVERING INDEX audit_action_terms_term (term>? AND term<?)"}},
		{"action and time, counted", count(with(action, func(f *Filter) { f.Since = time.Unix(1, 0) }), action.keys()), []string{
			"USING INDEX audit_events_action (tenant=? AND action=?)", byKey}},
		{"two keys, counted", count(with(action, func(f *Filter) { f.ActorID = "u" }), action.keys()), []string{
			"USING INDEX audit_events_action (tenant=? AND action=?)", byKey}},
		{"search and actor, counted", count(with(search, func(f *Filter) { f.ActorID = "u" }), nil), []string{
			"USING INDEX audit_events_action (tenant=? AND action=?)", "USING COVERING INDEX audit_action_terms_term (term>? AND term<?)"}},
	} {
		rest := c.plan
		for _, w := range c.want {
			i := strings.Index(rest, w)
			require.GreaterOrEqual(t, i, 0, "%s: %q not in %q", c.name, w, c.plan)
			rest = rest[i+len(w):]
		}
		require.NotRegexp(t, `SCAN audit_events($|;| )`, c.plan, c.name)
	}
	// The one exception, by design: the total of a time range or a
	// resource type alone across every tenant counts events that no index
	// narrows, and a scan counts them 3.7 times faster than every tenant's
	// index does (see allTenantsSQL). Their pages walk the log by seq.
	for name, f := range map[string]Filter{"time alone": timed, "resource type alone": with(all, func(f *Filter) { f.ResourceType = "doc" })} {
		require.Equal(t, "SCAN audit_events", count(f, nil), name)
		require.Equal(t, "SEARCH audit_events USING INTEGER PRIMARY KEY (rowid<?)", walk(f, 0), name)
	}
}
