package main_test

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// writeLog writes n events in three tenants into a new file and closes it.
func writeLog(t *testing.T, n int) string {
	t.Helper()
	l, path := newLog(t)
	for i := 1; i <= n; i++ {
		_, err := l.WithTenant([]string{"", "acme", "globex"}[i%3]).Track(t.Context(),
			audit.Ref{Type: "user", ID: strconv.Itoa(i % 4)}, fmt.Sprintf("doc.%d", i%5), audit.Ref{Type: "doc", ID: strconv.Itoa(i)},
			audit.WithTargets(audit.Ref{Type: "folder", ID: "f1"}), audit.WithMeta("i", i))
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	return path
}

// keyFiles writes an Ed25519 key pair in the forms the command reads: PEM
// as openssl writes them, the public key in base64url (as a checkpoint
// names it) and the private key's seed in hex.
type keyFiles struct {
	pub                                 ed25519.PublicKey
	privPEM, pubPEM, pubBase64, seedHex string
}

func newKeys(t *testing.T) keyFiles {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	dir := t.TempDir()
	k := keyFiles{pub: pub, privPEM: filepath.Join(dir, "key.pem"), pubPEM: filepath.Join(dir, "pub.pem"),
		pubBase64: filepath.Join(dir, "pub.txt"), seedHex: filepath.Join(dir, "seed.txt")}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(k.privPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	der, err = x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(k.pubPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(k.pubBase64, []byte(base64.RawURLEncoding.EncodeToString(pub)+"\n"), 0o644))
	require.NoError(t, os.WriteFile(k.seedHex, []byte(hex.EncodeToString(priv.Seed())), 0o600))
	return k
}

const dropTriggers = `DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; DROP TRIGGER audit_events_insert;`

// TestVerifyAndCheckpoint: verify says OK on an intact log, checks signed
// checkpoints against a key, and exits with 1, naming the seq and why,
// when the file was tampered with in the sqlite3 shell.
func TestVerifyAndCheckpoint(t *testing.T) {
	t.Parallel()
	keys := newKeys(t)
	other := newKeys(t)
	path := writeLog(t, 30)
	dir := t.TempDir()

	out := ok(t, "verify", "--db", path)
	require.Equal(t, "OK: 30 events verified: every hash and link, the totals and the typeahead catalogue\n"+
		`no --checkpoint: the newest events could have been removed without a trace; keep the output of "audit checkpoint" elsewhere, and pass it here`+"\n", out)

	// A signed checkpoint, with the private key as openssl writes it or
	// as a hex seed: the same key.
	text := ok(t, "checkpoint", "--db", path, "--key", keys.privPEM)
	var cp audit.Checkpoint
	require.NoError(t, cp.UnmarshalText([]byte(strings.TrimSpace(text))))
	require.Equal(t, int64(30), cp.Seq)
	require.True(t, cp.Signed())
	require.NoError(t, cp.VerifySignature(keys.pub))
	var fromSeed audit.Checkpoint
	require.NoError(t, fromSeed.UnmarshalText([]byte(strings.TrimSpace(ok(t, "checkpoint", "--db", path, "--key", keys.seedHex)))))
	require.Equal(t, cp.PublicKey, fromSeed.PublicKey)
	signed := filepath.Join(dir, "signed.txt")
	require.NoError(t, os.WriteFile(signed, []byte(text), 0o644))
	unsigned := filepath.Join(dir, "unsigned.txt")
	require.NoError(t, os.WriteFile(unsigned, []byte(ok(t, "checkpoint", "--db", path)), 0o644))
	require.Regexp(t, `^audit-checkpoint/v1 30 [0-9a-f]{64} \S+\n$`, ok(t, "checkpoint", "--db", path))

	for _, key := range []string{keys.pubPEM, keys.pubBase64, keys.privPEM} {
		out = ok(t, "verify", "--db", path, "--checkpoint", signed, "--key", key)
		require.Regexp(t, `\nthe log extends every checkpoint of `+regexp.QuoteMeta(signed)+` \(1 checkpoint\), the newest at seq 30 \(\S+Z\), signed by the key in `+regexp.QuoteMeta(key)+"\n$", out)
	}
	out = ok(t, "verify", "--db", path, "--checkpoint", signed, "--checkpoint", unsigned)
	require.Contains(t, out, "(2 checkpoints), the newest at seq 30")
	out = ok(t, "verify", "--db", path, "--checkpoint", signed)
	require.Contains(t, out, "signed by the key it names, "+base64.RawURLEncoding.EncodeToString(keys.pub)+" (--key checks that it is yours)")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--checkpoint", signed, "--key", other.pubPEM}, "invalid checkpoint: signature does not verify (a checkpoint of " + signed + ", checked against the key in " + other.pubPEM + ")"},
		{[]string{"--checkpoint", unsigned, "--key", keys.pubPEM}, "invalid checkpoint: unsigned"},
	} {
		r := run(t, append([]string{"verify", "--db", path}, c.args...)...)
		require.Equal(t, 1, r.code, r.stderr)
		require.Empty(t, r.stdout)
		require.Contains(t, r.stderr, "audit verify: "+c.want)
	}
	bad := filepath.Join(dir, "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("audit-checkpoint/v1 30 nothex 2026\n"), 0o644))
	r := run(t, "verify", "--db", path, "--checkpoint", bad)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "invalid checkpoint")
	empty := filepath.Join(dir, "empty.txt")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	r = run(t, "verify", "--db", path, "--checkpoint", empty)
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "no checkpoint in the file")

	// Tampering, done in the sqlite3 shell on copies of the log.
	for _, c := range []struct {
		name, sql, want string
	}{
		{"altered", dropTriggers + `UPDATE audit_events SET actor_name = 'Mallory' WHERE seq = 7;`,
			"FAILED at seq 7: altered: the stored hash does not match the event's content\n6 events before it verified\n"},
		{"removed", dropTriggers + `DELETE FROM audit_events WHERE seq = 12;`,
			"FAILED at seq 12: missing: seq 12 is absent\n11 events before it verified\n"},
		{"recount", `UPDATE audit_counts SET n = n + 1 WHERE kind = 'total' AND tenant = 'acme';`,
			"FAILED: derived: "},
	} {
		tampered := writeLog(t, 30)
		shell(t, tampered, c.sql)
		r := run(t, "verify", "--db", tampered)
		require.Equal(t, 1, r.code, c.name)
		require.True(t, strings.HasPrefix(r.stdout, c.want), "%s: %s", c.name, r.stdout)
		require.Equal(t, "audit verify: verification failed: "+tampered+" does not verify\n", r.stderr, c.name)
	}

	// The newest events removed: only a checkpoint kept elsewhere shows it.
	truncated := writeLog(t, 30)
	kept := filepath.Join(dir, "kept.txt")
	require.NoError(t, os.WriteFile(kept, []byte(ok(t, "checkpoint", "--db", truncated)), 0o644))
	shell(t, truncated, dropTriggers+`DELETE FROM audit_events WHERE seq > 25;`)
	r = run(t, "verify", "--db", truncated, "--checkpoint", kept)
	require.Equal(t, 1, r.code)
	require.Regexp(t, `^FAILED at seq 26: truncated: the log ends at seq 25, but the checkpoint of \S+ holds seq 30\n25 events before it verified\n$`, r.stdout)
}

// TestVerifyExport: a JSON Lines export of the whole log verifies
// offline, from a file or stdin, signed or not; one altered, cut short,
// with a line removed, filtered or not an export at all exits with 1.
func TestVerifyExport(t *testing.T) {
	t.Parallel()
	keys := newKeys(t)
	other := newKeys(t)
	path := writeLog(t, 40)
	dir := t.TempDir()
	exp := filepath.Join(dir, "export.jsonl")
	require.Empty(t, ok(t, "export", "--db", path, "--all-tenants", "--key", keys.privPEM, "-o", exp))
	raw, err := os.ReadFile(exp)
	require.NoError(t, err)

	out := ok(t, "verify-export", exp)
	require.Regexp(t, `^OK: 40 events verified: every hash and link, and the closing checkpoint \(seq 40, \S+Z, signed by the key it names, `+
		regexp.QuoteMeta(base64.RawURLEncoding.EncodeToString(keys.pub))+` \(--key checks that it is yours\)\)\n$`, out)
	out = ok(t, "verify-export", "--key", keys.pubPEM, exp)
	require.Contains(t, out, "signed by the key in "+keys.pubPEM+")\n")
	r := runIn(t, raw, "verify-export", "--key", keys.pubBase64, "-")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "OK: 40 events verified")
	// Oldest first, and unsigned.
	oldest := filepath.Join(dir, "oldest.jsonl")
	ok(t, "export", "--db", path, "--all-tenants", "--order", "oldest", "-o", oldest)
	require.Contains(t, ok(t, "verify-export", oldest), "(seq 40, ")
	require.Contains(t, ok(t, "verify-export", oldest), ", unsigned)")

	lines := strings.SplitAfter(string(raw), "\n")
	write := func(name string, ls []string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(strings.Join(ls, "")), 0o644))
		return p
	}
	altered := append([]string(nil), lines...)
	altered[5] = strings.Replace(altered[5], `"action":"doc.`, `"action":"DOC.`, 1)
	removed := append(append([]string(nil), lines[:10]...), lines[11:]...)
	filtered := filepath.Join(dir, "filtered.jsonl")
	ok(t, "export", "--db", path, "--all-tenants", "--action", "doc.1", "-o", filtered)
	tenant := filepath.Join(dir, "tenant.jsonl")
	ok(t, "export", "--db", path, "--tenant", "acme", "-o", tenant)

	for _, c := range []struct {
		args           []string
		stdout, stderr string
	}{
		{[]string{write("altered.jsonl", altered)}, "FAILED at seq 36: line 6: altered: the hash does not match the event's content\n4 events before it verified\n", "does not verify"},
		{[]string{write("removed.jsonl", removed)}, "FAILED at seq 30: line 11: seq 30 follows seq 32: events are missing or out of order\n9 events before it verified\n", "does not verify"},
		{[]string{write("short.jsonl", lines[:len(lines)-2])}, "FAILED at seq 41: line 42: no closing checkpoint: the export was cut short\n40 events before it verified\n", "does not verify"},
		{[]string{"--key", other.pubPEM, exp}, "", "audit verify-export: invalid checkpoint: signature does not verify"},
		{[]string{"--key", keys.pubPEM, oldest}, "", "audit verify-export: invalid checkpoint: unsigned"},
		{[]string{filtered}, "", "audit verify-export: export cannot be verified: a filtered export"},
		{[]string{tenant}, "", `export cannot be verified: a filtered export (tenant "acme")`},
		{[]string{write("not.jsonl", []string{"hello\n"})}, "", "export cannot be verified: line 1 is not the header of an export of this package"},
	} {
		r := run(t, append([]string{"verify-export"}, c.args...)...)
		require.Equal(t, 1, r.code, "%v: %s", c.args, r.stderr)
		require.Equal(t, c.stdout, r.stdout, c.args)
		require.Contains(t, r.stderr, c.stderr, c.args)
	}
}

// TestBackup: backup copies a log that this process goes on writing
// meanwhile; the copy verifies, with the command and with the library,
// up to the seq the command printed. An existing file is not replaced.
func TestBackup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, path := newLog(t)
	for i := range 100 {
		_, err := l.WithTenant([]string{"", "acme"}[i%2]).Track(ctx, nil, "before.backup", nil)
		require.NoError(t, err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := l.Track(ctx, nil, "during.backup", nil); err != nil {
				writeErr = err
				return
			}
		}
	})
	dest := filepath.Join(t.TempDir(), "backup.db")
	out := ok(t, "backup", "--db", path, dest)
	close(stop)
	wg.Wait()
	require.NoError(t, writeErr)
	m := regexp.MustCompile(`^` + regexp.QuoteMeta(dest) + `: a copy of ` + regexp.QuoteMeta(path) + ` up to seq (\d+) \(\d+\.\d KiB\)\n$`)
	got := m.FindStringSubmatch(out)
	require.NotNil(t, got, out)
	seq, err := strconv.ParseInt(got[1], 10, 64)
	require.NoError(t, err)
	require.GreaterOrEqual(t, seq, int64(100))

	require.Contains(t, ok(t, "verify", "--db", dest), fmt.Sprintf("OK: %d events verified", seq))
	b, err := audit.Open(ctx, dest, audit.WithReadOnly())
	require.NoError(t, err)
	defer b.Close()
	rep, err := b.Verify(ctx)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: seq, OK: true}, rep)
	acme, err := b.WithTenant("acme").Recent(ctx, audit.Query{PerPage: 1})
	require.NoError(t, err)
	require.Equal(t, 50, acme.TotalCount, "every tenant is in the copy")

	r := run(t, "backup", "--db", path, dest)
	require.Equal(t, 3, r.code)
	require.Contains(t, r.stderr, "audit backup: backup to "+dest+": file already exists")
}
