package main

import (
	"strings"
	"testing"
)

func TestRedactArgsHidesDSNPasswords(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://bench:s3cret@localhost:5432/audit?sslmode=disable", "postgres://bench:xxx@localhost:5432/audit?sslmode=disable"},
		{"postgresql://bench:p%40ss:word@db/audit", "postgresql://bench:xxx@db/audit"},
		{"postgres://bench@localhost/audit", "postgres://bench@localhost/audit"},
		{"host=localhost user=bench password=s3cret dbname=audit", "host=localhost user=bench password=xxx dbname=audit"},
		{"host=db password='a b\\' c' dbname=audit", "host=db password=xxx dbname=audit"},
		{"-sizes", "-sizes"},
		{"100000,1000000", "100000,1000000"},
	} {
		got := redactArgs([]string{c.in})[0]
		if got != c.want {
			t.Errorf("redactArgs(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(got, "s3cret") || strings.Contains(got, "word@") {
			t.Errorf("redactArgs(%q) = %q still holds the password", c.in, got)
		}
	}
}
