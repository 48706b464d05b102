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
	// OldestFirst orders by seq ascending; the default is newest first.
	OldestFirst bool
	// Exact filters; empty means any.
	Action, ActorID, ActorType, ResourceType, ResourceID string
	// Subject keeps the events whose resource or any target has this ID
	// (and, with SubjectType, that type).
	Subject, SubjectType string
	// Outcome is "success", "failure" or "" for either.
	Outcome string
	// Since (inclusive) and Until (exclusive) bound OccurredAt when not zero.
	Since, Until time.Time
	// FromSeq and ToSeq bound Seq, both inclusive, when not zero.
	FromSeq, ToSeq int64
	// Search is the lower-cased typeahead term (see audit.Logger.Search).
	Search string
}

// Outcomes, as the events store them.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = outcomeFailure
)

// dir is the ORDER BY direction of f.
func (f Filter) dir() string {
	if f.OldestFirst {
		return "ASC"
	}
	return "DESC"
}

// where builds the conditions of f other than Search and Subject, and the
// keyset bound (events after cursor in f's order, when cursor > 0), with ?
// placeholders, on the columns of the table (or alias) t ("" for none).
// An outcome is written as a literal (it is one of two constants), so that
// the planner can use the partial index of failures.
func (f Filter) where(t string, cursor int64) (string, []any) {
	if t != "" {
		t += "."
	}
	var conds []string
	var args []any
	add := func(cond string, v any) {
		conds = append(conds, t+cond)
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
	if f.ActorType != "" {
		add("actor_type = ?", f.ActorType)
	}
	if f.ResourceType != "" {
		add("resource_type = ?", f.ResourceType)
	}
	if f.ResourceID != "" {
		add("resource_id = ?", f.ResourceID)
	}
	switch f.Outcome {
	case OutcomeSuccess:
		conds = append(conds, t+"outcome = '"+OutcomeSuccess+"'")
	case OutcomeFailure:
		conds = append(conds, t+"outcome = '"+OutcomeFailure+"'")
	}
	if !f.Since.IsZero() {
		add("occurred_at >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("occurred_at < ?", f.Until.UnixNano())
	}
	if f.FromSeq > 0 {
		add("seq >= ?", f.FromSeq)
	}
	if f.ToSeq > 0 {
		add("seq <= ?", f.ToSeq)
	}
	if cursor > 0 {
		if f.OldestFirst {
			add("seq > ?", cursor)
		} else {
			add("seq < ?", cursor)
		}
	}
	if len(conds) == 0 {
		return "1 = 1", nil
	}
	return strings.Join(conds, " AND "), args
}

// timed reports whether f bounds OccurredAt.
func (f Filter) timed() bool { return !f.Since.IsZero() || !f.Until.IsZero() }

// narrowed reports whether f has a condition that no counter answers: a
// time or seq range, an actor or resource type (outside a subject's), or
// an outcome along with another condition.
func (f Filter) narrowed() bool {
	return f.timed() || f.FromSeq > 0 || f.ToSeq > 0 || f.ActorType != "" && f.ActorID == "" || f.ResourceType != "" && f.ResourceID == ""
}

// everything reports whether f selects every event of one tenant, in
// either order: no condition but the tenant.
func (f Filter) everything() bool {
	return !f.AllTenants && f.keyed() == 0 && !f.narrowed() && f.ActorType == "" && f.ResourceType == "" && f.SubjectType == ""
}

// keyed counts the conditions of f on counted keys (action, actor,
// resource, subject, outcome, search term).
func (f Filter) keyed() int {
	n := 0
	for _, s := range []string{f.Action, f.ActorID, f.ResourceID, f.Subject, f.Outcome, f.Search} {
		if s != "" {
			n++
		}
	}
	return n
}

// keyIndexes are the index and counter kind of each keyed filter, in the
// order of Filter.keys.
var keyIndexes = [...]struct{ kind, index string }{
	{kindAction, "audit_events_action"},
	{kindActor, "audit_events_actor"},
	{kindResource, "audit_events_resource"},
}

// filterKey is a filter on a counted key: its kind, value (and type, for
// actors and resources) and index.
type filterKey struct{ kind, key, typ, index string }

// keys returns the filters of f on counted keys that an index of
// audit_events serves.
func (f Filter) keys() []filterKey {
	var out []filterKey
	for i, v := range [...][2]string{{f.Action, ""}, {f.ActorID, f.ActorType}, {f.ResourceID, f.ResourceType}} {
		if v[0] != "" {
			out = append(out, filterKey{keyIndexes[i].kind, v[0], v[1], keyIndexes[i].index})
		}
	}
	return out
}
