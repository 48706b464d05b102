package sqlcore

import "strings"

// ActionTerms returns what a typeahead term is matched against: the
// lower-cased action (segment 0), then the suffix starting at each later
// dot-separated segment. A term matches an action when it is a prefix of
// one of these. audit_action_terms holds them for every action.
func ActionTerms(action string) []string {
	lower := strings.ToLower(action)
	terms := []string{lower}
	for i := 0; i < len(lower); i++ {
		if lower[i] == '.' && i+1 < len(lower) {
			terms = append(terms, lower[i+1:])
		}
	}
	return terms
}

// PrefixEnd returns the smallest string greater than every string that
// starts with p, for a range scan; ok is false when there is none.
func PrefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// termRange is the condition of a range scan of a terms table for the
// terms that start with term, and its arguments.
func termRange(term string) (string, []any) { return prefixRange("term", term) }

// prefixRange is the condition of a range scan of column for the values
// that start with p, and its arguments.
func prefixRange(column, p string) (string, []any) {
	if up, ok := PrefixEnd(p); ok {
		return column + ` >= ? AND ` + column + ` < ?`, []any{p, up}
	}
	return column + ` >= ?`, []any{p}
}
