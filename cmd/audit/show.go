package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/trailkit/audit"
)

// maxCell is how many columns of a value a table or a tail line shows;
// a longer one is cut with "…" (get and --json show it whole).
const maxCell = 48

// escape makes s safe to print on one line of a terminal: control
// characters (C0, DEL, C1), line and paragraph separators and the
// characters that reorder text (bidirectional overrides, embeddings and
// isolates, as in "Trojan Source") are shown as Go escapes (\n, \x1b,
// \u202e), and a backslash as \\, so that what is shown is unambiguous.
// Everything else prints as it is.
func escape(s string) string {
	clean := true
	for _, r := range s {
		if needsEscape(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !needsEscape(r) {
			b.WriteRune(r)
			continue
		}
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

func needsEscape(r rune) bool {
	switch {
	case r == '\\', unicode.IsControl(r), r == utf8.RuneError:
		return true
	case r == '\u2028', r == '\u2029': // line and paragraph separators
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f', r == '\u061c':
		return true // bidirectional embeddings, overrides, isolates and marks
	}
	return false
}

// escapeJSON is escape for a line of JSON, whose strings hold backslashes
// and control characters escaped already: what is left to escape is
// written as a JSON escape (\u007f, \u202e), so that the line stays JSON.
func escapeJSON(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r != '\\' && needsEscape(r) }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r != '\\' && needsEscape(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// cell is s escaped and cut to maxCell columns of a terminal.
func cell(s string) string { return cutWidth(escape(s), maxCell) }

// refText is how a Ref reads: "type:id (name)", "system" for the zero Ref.
func refText(r audit.Ref) string {
	if r.IsZero() {
		return "system"
	}
	var parts []string
	switch {
	case r.Type != "":
		parts = append(parts, r.Type+":"+r.ID)
	case r.ID != "":
		parts = append(parts, r.ID)
	}
	if r.Name != "" {
		parts = append(parts, "("+r.Name+")")
	}
	return strings.Join(parts, " ")
}

// tableTime is how a table shows a time: UTC, to the second.
func tableTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// row is the cells of one event in a table or a tail line.
func row(e audit.Event, tenants bool) []string {
	r := []string{strconv.FormatInt(e.Seq, 10)}
	if tenants {
		r = append(r, cell(tenantText(e.Tenant)))
	}
	return append(r, tableTime(e.OccurredAt), cell(e.Action), cell(refText(e.Actor)),
		cell(refText(e.Resource)), e.Outcome, e.ID)
}

// header is the first row of a table.
func header(tenants bool) []string {
	r := []string{"SEQ"}
	if tenants {
		r = append(r, "TENANT")
	}
	return append(r, "OCCURRED (UTC)", "ACTION", "ACTOR", "RESOURCE", "OUTCOME", "ID")
}

func tenantText(t string) string {
	if t == "" {
		return `""`
	}
	return t
}

// printTable writes events as a table, aligned for a terminal (wide
// characters take two columns).
func printTable(w io.Writer, events []audit.Event, tenants bool) error {
	rows := [][]string{header(tenants)}
	for _, e := range events {
		rows = append(rows, row(e, tenants))
	}
	return writeColumns(w, rows)
}

// printEvent writes every field of e, one per line.
func printEvent(w io.Writer, e audit.Event) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	field := func(name, value string) { fmt.Fprintf(tw, "%s\t%s\n", name, value) }
	field("id", escape(e.ID))
	field("seq", strconv.FormatInt(e.Seq, 10))
	field("tenant", escape(tenantText(e.Tenant)))
	field("occurred_at", e.OccurredAt.UTC().Format(time.RFC3339Nano))
	field("recorded_at", e.RecordedAt.UTC().Format(time.RFC3339Nano))
	field("action", escape(e.Action))
	field("actor", escape(refText(e.Actor)))
	field("resource", escape(refText(e.Resource)))
	for i, t := range e.Targets {
		name := ""
		if i == 0 {
			name = "targets"
		}
		field(name, escape(refText(t)))
	}
	field("outcome", e.Outcome)
	if len(e.Metadata) > 0 {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(e.Metadata); err != nil {
			return err
		}
		for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			name := ""
			if i == 0 {
				name = "metadata"
			}
			field(name, escapeJSON(line))
		}
	}
	if e.IdempotencyKey != "" {
		field("idempotency_key", escape(e.IdempotencyKey))
	}
	if e.Origin.IP != "" {
		field("origin.ip", escape(e.Origin.IP))
	}
	if e.Origin.UserAgent != "" {
		field("origin.user_agent", escape(e.Origin.UserAgent))
	}
	if e.Origin.RequestID != "" {
		field("origin.request_id", escape(e.Origin.RequestID))
	}
	field("chain_version", strconv.Itoa(e.ChainVersion))
	field("prev_hash", fmt.Sprintf("%x", e.PrevHash))
	field("hash", fmt.Sprintf("%x", e.Hash))
	return tw.Flush()
}

// printJSON writes v as JSON, indented or on one line, with what escape
// escapes written as JSON escapes (see escapeJSON): the same value, safe
// on a terminal.
func printJSON(w io.Writer, v any, indent bool) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for i, line := range lines {
		lines[i] = escapeJSON(line)
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n")+"\n")
	return err
}

// plural is "1 event", "2 events".
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return groupDigits(n) + " " + word + "s"
}

// groupDigits writes n with commas between groups of three digits.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
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
