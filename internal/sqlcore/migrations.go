package sqlcore

import (
	"regexp"
	"strconv"
)

var migrationHeader = regexp.MustCompile(`(?m)^-- migration (\d+): .*$`)

// A Migration is one numbered part of a store's schema file: the text from
// its header line, "-- migration N: what it does", to the next header.
type Migration struct {
	Version int
	SQL     string
}

// Migrations splits a schema file into its numbered migrations, in the
// order they appear.
func Migrations(schema string) []Migration {
	idx := migrationHeader.FindAllStringSubmatchIndex(schema, -1)
	out := make([]Migration, 0, len(idx))
	for i, m := range idx {
		v, _ := strconv.Atoi(schema[m[2]:m[3]])
		end := len(schema)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		out = append(out, Migration{Version: v, SQL: schema[m[0]:end]})
	}
	return out
}
