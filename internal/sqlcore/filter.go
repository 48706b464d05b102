package sqlcore

import (
	"strings"
	"time"
)

// Filter is a validated query as a store sees it.
type Filter struct {
	// Tenant is the one tenant whose events match, unless AllTenants.
	Tenant string
	// AllTenants matches the events of every tenant; Tenant is then "".
	AllTenants bool
	// Exact filters; empty means any.
	Action, ActorID, ResourceType, ResourceID string
	// Since (inclusive) and Until (exclusive) bound OccurredAt when not zero.
	Since, Until time.Time
	// Search is the lower-cased typeahead term (see audit.Logger.Search).
	Search string
}

// where builds the conditions of f other than Search, and the keyset bound
// ("1" for none), with ? placeholders.
func (f Filter) where(before int64) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		conds = append(conds, cond)
		args = append(args, v)
	}
	if !f.AllTenants {
		add("tenant = ?", f.Tenant)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.ActorID != "" {
		add("actor_id = ?", f.ActorID)
	}
	if f.ResourceType != "" {
		add("resource_type = ?", f.ResourceType)
	}
	if f.ResourceID != "" {
		add("resource_id = ?", f.ResourceID)
	}
	if !f.Since.IsZero() {
		add("occurred_at >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("occurred_at < ?", f.Until.UnixNano())
	}
	if before > 0 {
		add("seq < ?", before)
	}
	if len(conds) == 0 {
		return "1 = 1", nil
	}
	return strings.Join(conds, " AND "), args
}

// timed reports whether f bounds OccurredAt.
func (f Filter) timed() bool { return !f.Since.IsZero() || !f.Until.IsZero() }

// The counter policy. audit_counts keeps, per tenant and in the write
// transaction, the number of events of each kind of key: the tenant's
// total (key ""), each actor ID, each resource ID and each action. The
// action rows are also the catalogue of distinct actions. A filter on at
// most one of these keys, with no time range, is answered by one counter.
const (
	kindTotal    = "total"
	kindActor    = "actor"
	kindResource = "resource"
	kindAction   = "action"
)

// CounterKinds are the kinds of counter rows, in the order CheckDerived
// recounts them.
var CounterKinds = [...]string{kindTotal, kindActor, kindResource, kindAction}

// countKey is one counter: a tenant's count of one key of a kind.
type countKey struct{ tenant, kind, key string }

// countersOf returns the counters an event of row r adds one to.
func countersOf(r *Row) [4]countKey {
	return [4]countKey{
		{r.Tenant, kindTotal, ""},
		{r.Tenant, kindActor, r.ActorID},
		{r.Tenant, kindResource, r.ResourceID},
		{r.Tenant, kindAction, r.Action},
	}
}

// counterFor returns the counter that holds the total of f (one tenant, no
// search), or ok false when no counter does.
func (f Filter) counterFor() (kind, key string, ok bool) {
	if f.timed() || f.Search != "" || f.AllTenants {
		return "", "", false
	}
	keyed := 0
	for _, s := range []string{f.Action, f.ActorID, f.ResourceType, f.ResourceID} {
		if s != "" {
			keyed++
		}
	}
	switch {
	case keyed == 0:
		return kindTotal, "", true
	case keyed > 1 || f.ResourceType != "":
		return "", "", false
	case f.Action != "":
		return kindAction, f.Action, true
	case f.ActorID != "":
		return kindActor, f.ActorID, true
	}
	return kindResource, f.ResourceID, true
}

// keyIndexes are the index and counter kind of each keyed filter, in the
// order of Filter.keys.
var keyIndexes = [...]struct{ kind, index string }{
	{kindAction, "audit_events_action"},
	{kindActor, "audit_events_actor"},
	{kindResource, "audit_events_resource"},
}

// filterKey is a filter on a counted key: its kind, value and index.
type filterKey struct{ kind, key, index string }

// keys returns the filters of f on counted keys.
func (f Filter) keys() []filterKey {
	var out []filterKey
	for i, v := range [...]string{f.Action, f.ActorID, f.ResourceID} {
		if v != "" {
			out = append(out, filterKey{keyIndexes[i].kind, v, keyIndexes[i].index})
		}
	}
	return out
}
