// Command audit looks at, follows, exports, verifies and backs up the log
// file of github.com/trailkit/audit, including one that an application is
// writing at the time:
//
//	go install github.com/trailkit/audit/cmd/audit@latest
//	export AUDIT_DB=/var/lib/app/audit.db
//	audit list --action user.signed_in --outcome failure
//	audit tail --all-tenants
//	audit export --format csv --since 2026-11-01 -o november.csv
//	audit verify --checkpoint checkpoints.txt --key audit-pub.pem
//	audit serve --demo    # the admin page on a live demo log, at http://127.0.0.1:8080/
//
// Every command but demo and serve --demo opens the log read-only
// (audit.WithReadOnly): it neither migrates nor writes the file. "audit help" lists the commands,
// "audit COMMAND --help" a command's flags.
//
// Exit codes:
//
//	0    success
//	1    verification failed: verify or verify-export found the log or the
//	     export altered, truncated or unverifiable, or a checkpoint that
//	     does not parse or whose signature does not verify
//	2    usage: an unknown command or flag, a missing or malformed
//	     argument, a filter or cursor the library refuses
//	3    error: a file missing or unreadable, not an audit log, a schema of
//	     another release, a failed read or write
//	4    not found: get of an id the view does not hold
//	130  interrupted (Ctrl-C) before the command finished; tail ends on
//	     Ctrl-C with 0
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/trailkit/audit"
)

// Exit codes: see the package documentation.
const (
	exitOK          = 0
	exitVerify      = 1
	exitUsage       = 2
	exitError       = 3
	exitNotFound    = 4
	exitInterrupted = 130
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// env is where a command writes: its output on stdout, errors and
// progress on stderr.
type env struct {
	stdout, stderr io.Writer
	// stdoutTTY and stderrTTY say whether they are terminals.
	stdoutTTY, stderrTTY bool
}

// command is one subcommand.
type command struct {
	name    string
	args    string // what follows the name in its usage line
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands in the order the help lists them.
var commands = []command{
	{"list", "[flags]", "a page of events as a table (or JSON), with the totals", runList},
	{"get", "[flags] ID", "one event, every field", runGet},
	{"tail", "[flags]", "follow new events as they are recorded, until Ctrl-C", runTail},
	{"export", "[flags]", "every event a filter selects, as CSV or JSON Lines", runExport},
	{"verify", "[flags]", "check the hash chain, the totals and checkpoints", runVerify},
	{"verify-export", "[flags] FILE", "check a JSON Lines export offline, without the log", runVerifyExport},
	{"checkpoint", "[flags]", "print a checkpoint of the log's newest event, to keep elsewhere", runCheckpoint},
	{"backup", "[flags] DEST", "write a consistent copy of the log to a new file", runBackup},
	{"serve", "[flags]", "serve the admin page and the JSON API for a log, or a live demo", runServe},
	{"demo", "[flags]", "create a demo log and print what the library answers", runDemo},
}

func run(args []string, stdout, stderr *os.File) int {
	e := &env{stdout: stdout, stderr: stderr, stdoutTTY: isTerminal(stdout), stderrTTY: isTerminal(stderr)}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == name {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return report(ctx, stderr, c.name, c.run(ctx, e, args[1:]))
		}
	}
	fmt.Fprintf(stderr, "audit: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `audit works with the log file of github.com/trailkit/audit, even while an
application writes it. Every command but demo and serve --demo opens the log
read-only.

Usage:
  audit COMMAND [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
The log is the file given with --db, or else $AUDIT_DB.
"audit COMMAND --help" shows a command's flags.

Exit codes: 0 success, 1 verification failed, 2 usage, 3 error (a file, the
database), 4 not found, 130 interrupted.
`)
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// errVerifyFailed is wrapped by what verify and verify-export return when
// the log or the export does not verify; they print the report first.
var errVerifyFailed = errors.New("verification failed")

// exitCode maps what a command returned to the process's exit code.
func exitCode(ctx context.Context, err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue), errors.Is(err, audit.ErrInvalidQuery), errors.Is(err, audit.ErrInvalidCursor):
		return exitUsage
	case errors.Is(err, errVerifyFailed), errors.Is(err, audit.ErrInvalidCheckpoint), errors.Is(err, audit.ErrUnverifiableExport):
		return exitVerify
	case errors.Is(err, audit.ErrNotFound):
		return exitNotFound
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitError
}

// report prints err, if any, on stderr as "audit NAME: ..." (the
// library's own "audit: " taken off) and returns the exit code.
func report(ctx context.Context, stderr io.Writer, name string, err error) int {
	code := exitCode(ctx, err)
	switch code {
	case exitOK:
	case exitInterrupted:
		fmt.Fprintf(stderr, "audit %s: interrupted\n", name)
	default:
		fmt.Fprintf(stderr, "audit %s: %s\n", name, strings.TrimPrefix(err.Error(), "audit: "))
		if code == exitUsage {
			fmt.Fprintf(stderr, "Run 'audit %s --help' for usage.\n", name)
		}
	}
	return code
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
