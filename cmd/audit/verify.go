package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/trailkit/audit"
)

func runVerify(ctx context.Context, e *env, args []string) error {
	f := newFlags("verify", "[flags]", `Checks the whole log, every tenant: each event's hash and its link to the one
before, that each row is in the one form the library writes, and that the
totals and the typeahead catalogue agree with the events. With --checkpoint
it also checks that the log still extends each checkpoint of the file (one a
line, as "audit checkpoint" prints them and WithCheckpointFile writes them),
which catches the newest events removed or rewritten; with --key, that each
is signed by that key. It exits with 1 when the log does not verify. The log
may be written meanwhile: events recorded after verify began are left for
the next run.`)
	var db, keyFile string
	var files listValue
	f.db(&db)
	f.value(&files, "checkpoint", "check against the checkpoints in `FILE` (repeatable)")
	f.string(&keyFile, "key", "", "trust only checkpoints signed by the Ed25519 key in\n`FILE`: a public key (PEM, or base64 or hex); a private\nkey file gives its public half")
	if _, err := f.parse(e, args, 0, 0); err != nil {
		return err
	}
	var opts []audit.Option
	if keyFile != "" {
		pub, err := readPublicKey(keyFile)
		if err != nil {
			return err
		}
		opts = append(opts, audit.WithCheckpointPublicKey(pub))
	}
	var cps []audit.Checkpoint
	for _, file := range files {
		read, err := audit.ReadCheckpoints(file)
		if err != nil {
			return err
		}
		if len(read) == 0 {
			return usagef("--checkpoint %s: no checkpoint in the file", file)
		}
		cps = append(cps, read...)
	}
	l, err := openLog(ctx, db, opts...)
	if err != nil {
		return err
	}
	defer l.Close()
	rep, err := l.Verify(ctx, cps...)
	if errors.Is(err, audit.ErrInvalidCheckpoint) && keyFile != "" {
		return fmt.Errorf("%w (a checkpoint of %s, checked against the key in %s)", err, escape(strings.Join(files, ", ")), escape(keyFile))
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		if rep.FirstBad > 0 {
			fmt.Fprintf(e.stdout, "FAILED at seq %d: %s\n%s before it verified\n", rep.FirstBad, escape(rep.Reason), plural(rep.Checked, "event"))
		} else {
			fmt.Fprintf(e.stdout, "FAILED: %s\n(the %s themselves verified)\n", escape(rep.Reason), plural(rep.Checked, "event"))
		}
		return fmt.Errorf("%w: %s does not verify", errVerifyFailed, escape(db))
	}
	fmt.Fprintf(e.stdout, "OK: %s verified: every hash and link, the totals and the typeahead catalogue\n", plural(rep.Checked, "event"))
	if len(cps) == 0 {
		fmt.Fprintln(e.stdout, `no --checkpoint: the newest events could have been removed without a trace; keep the output of "audit checkpoint" elsewhere, and pass it here`)
		return nil
	}
	newest := slices.MaxFunc(cps, func(a, b audit.Checkpoint) int { return int(a.Seq - b.Seq) })
	fmt.Fprintf(e.stdout, "the log extends every checkpoint of %s (%s), the newest at seq %d (%s), %s\n",
		escape(strings.Join(files, ", ")), plural(int64(len(cps)), "checkpoint"), newest.Seq,
		newest.Time.UTC().Format(time.RFC3339), signedBy(newest, keyFile))
	return nil
}

// signedBy says who signed cp, as far as the check went.
func signedBy(cp audit.Checkpoint, keyFile string) string {
	switch {
	case !cp.Signed():
		return "unsigned"
	case keyFile != "":
		return "signed by the key in " + escape(keyFile)
	}
	return "signed by the key it names, " + base64.RawURLEncoding.EncodeToString(cp.PublicKey) +
		" (--key checks that it is yours)"
}

func runVerifyExport(ctx context.Context, e *env, args []string) error {
	f := newFlags("verify-export", "[flags] FILE", `Checks a JSON Lines export ("audit export", Logger.Export) without the log:
each event's hash, each link to the next, that none is missing between the
first and the last, and the closing checkpoint; with --key, that the
checkpoint is signed by that key. FILE "-" reads stdin. Only an export of
the whole log can verify (see "audit export --help"): a filtered one is
refused. It exits with 1 when the export does not verify.`)
	var keyFile string
	f.string(&keyFile, "key", "", "trust only a closing checkpoint signed by the Ed25519\nkey in `FILE` (as verify --key)")
	args, err := f.parse(e, args, 1, 1)
	if err != nil {
		return err
	}
	var pub ed25519.PublicKey
	if keyFile != "" {
		if pub, err = readPublicKey(keyFile); err != nil {
			return err
		}
	}
	var r io.Reader = os.Stdin
	name := "stdin"
	if args[0] != "-" {
		file, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer file.Close()
		r, name = file, args[0]
	}
	tr := &tailReader{ctx: ctx, r: r}
	rep, err := audit.VerifyExport(tr, pub)
	if err != nil {
		return err
	}
	if !rep.OK {
		fmt.Fprintf(e.stdout, "FAILED at seq %d: %s\n%s before it verified\n", rep.FirstBad, escape(rep.Reason), plural(rep.Checked, "event"))
		return fmt.Errorf("%w: %s does not verify", errVerifyFailed, escape(name))
	}
	fmt.Fprintf(e.stdout, "OK: %s verified: every hash and link, and the closing checkpoint", plural(rep.Checked, "event"))
	if cp, ok := tr.checkpoint(); ok {
		fmt.Fprintf(e.stdout, " (seq %d, %s, %s)", cp.Seq, cp.Time.UTC().Format(time.RFC3339), signedBy(cp, keyFile))
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// tailReader reads r, failing once ctx is done (so that Ctrl-C stops a
// long read), and keeps the last bytes it read: the closing line of an
// export.
type tailReader struct {
	ctx  context.Context
	r    io.Reader
	tail []byte
}

const keepTail = 4 << 10

func (t *tailReader) Read(p []byte) (int, error) {
	if err := t.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := t.r.Read(p)
	t.tail = append(t.tail, p[:n]...)
	if len(t.tail) > keepTail {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-keepTail:]...)
	}
	return n, err
}

// checkpoint returns the checkpoint of the closing line read, if any.
func (t *tailReader) checkpoint() (audit.Checkpoint, bool) {
	lines := bytes.Split(bytes.TrimSpace(t.tail), []byte("\n"))
	var trailer struct {
		Checkpoint string `json:"checkpoint"`
	}
	var cp audit.Checkpoint
	if json.Unmarshal(lines[len(lines)-1], &trailer) != nil || cp.UnmarshalText([]byte(trailer.Checkpoint)) != nil {
		return audit.Checkpoint{}, false
	}
	return cp, true
}

func runCheckpoint(ctx context.Context, e *env, args []string) error {
	f := newFlags("checkpoint", "[flags]", `Prints a checkpoint of the log: the seq and hash of its newest event (of
every tenant), the time, and with --key an Ed25519 signature, on one line.
Keep it where the log's writers cannot reach (append it to a file elsewhere,
a ticket, another system): "audit verify --checkpoint FILE" later proves
that the log still extends it, which catches the newest events removed or
rewritten.`)
	var db, keyFile string
	f.db(&db)
	f.string(&keyFile, "key", "", "sign with the Ed25519 private key in `FILE`: PEM (PKCS\n#8, as \"openssl genpkey -algorithm ed25519\" writes\nit), or its 32-byte seed in base64 or hex")
	if _, err := f.parse(e, args, 0, 0); err != nil {
		return err
	}
	opts, err := signingOptions(keyFile)
	if err != nil {
		return err
	}
	l, err := openLog(ctx, db, opts...)
	if err != nil {
		return err
	}
	defer l.Close()
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.stdout, cp.String())
	return err
}

func runBackup(ctx context.Context, e *env, args []string) error {
	f := newFlags("backup", "[flags] DEST", `Writes a consistent copy of the whole log (every tenant) to the new file DEST
while applications go on writing it, and puts it in place only once complete;
it refuses a DEST that exists. Unlike a copy of the database file, it holds
the events still in the -wal file. "audit verify --db DEST" checks the copy.`)
	var db string
	f.db(&db)
	args, err := f.parse(e, args, 1, 1)
	if err != nil {
		return err
	}
	dest := args[0]
	l, err := openLog(ctx, db)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := l.Backup(ctx, dest); err != nil {
		return err
	}
	b, err := openLog(ctx, dest)
	if err != nil {
		return err
	}
	defer b.Close()
	cp, err := b.Checkpoint(ctx)
	if err != nil {
		return err
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s: a copy of %s up to seq %d (%s)\n", escape(dest), escape(db), cp.Seq, byteSize(fi.Size()))
	return err
}

// byteSize writes n bytes in KiB, MiB or GiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 2; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMG"[exp])
}

// listValue is a flag that may be repeated.
type listValue []string

func (v *listValue) String() string {
	if v == nil {
		return ""
	}
	return strings.Join(*v, ", ")
}

func (v *listValue) Set(s string) error {
	*v = append(*v, s)
	return nil
}
