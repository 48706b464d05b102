package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Checkpoint pins the head of the chain at a moment: keep it outside the
// database (a file, another system, a ticket) and pass it to Verify later to
// prove that the log still extends it. It is signed with Ed25519 when the
// logger has a key (WithCheckpointKey).
type Checkpoint struct {
	Seq       int64
	Hash      []byte
	Time      time.Time
	PublicKey ed25519.PublicKey // set when signed
	Signature []byte            // Ed25519 over signedText()
}

const checkpointTag = "audit-checkpoint/v1"

// signedText is what the signature covers.
func (cp Checkpoint) signedText() []byte {
	return fmt.Appendf(nil, "%s %d %x %s", checkpointTag, cp.Seq, cp.Hash, cp.Time.UTC().Format(time.RFC3339Nano))
}

// MarshalText implements encoding.TextMarshaler: one line,
// "audit-checkpoint/v1 SEQ HASH TIME [PUBLICKEY SIGNATURE]", hash in hex,
// time in RFC 3339, key and signature in base64url.
func (cp Checkpoint) MarshalText() ([]byte, error) {
	b := cp.signedText()
	if len(cp.Signature) > 0 {
		b = fmt.Appendf(b, " %s %s", base64.RawURLEncoding.EncodeToString(cp.PublicKey), base64.RawURLEncoding.EncodeToString(cp.Signature))
	}
	return b, nil
}

// String returns the text form.
func (cp Checkpoint) String() string {
	b, _ := cp.MarshalText()
	return string(b)
}

// UnmarshalText implements encoding.TextUnmarshaler. It checks the form,
// not the signature (Verify does).
func (cp *Checkpoint) UnmarshalText(text []byte) error {
	f := strings.Fields(string(text))
	if (len(f) != 4 && len(f) != 6) || f[0] != checkpointTag {
		return fmt.Errorf("%w: want %q SEQ HASH TIME [KEY SIG]", ErrInvalidCheckpoint, checkpointTag)
	}
	var c Checkpoint
	var err error
	if c.Seq, err = strconv.ParseInt(f[1], 10, 64); err != nil || c.Seq < 0 {
		return fmt.Errorf("%w: seq %q", ErrInvalidCheckpoint, f[1])
	}
	if c.Hash, err = hex.DecodeString(f[2]); err != nil || len(c.Hash) != HashSize {
		return fmt.Errorf("%w: hash %q", ErrInvalidCheckpoint, f[2])
	}
	if c.Time, err = time.Parse(time.RFC3339Nano, f[3]); err != nil {
		return fmt.Errorf("%w: time: %w", ErrInvalidCheckpoint, err)
	}
	if len(f) == 6 {
		key, err1 := base64.RawURLEncoding.DecodeString(f[4])
		sig, err2 := base64.RawURLEncoding.DecodeString(f[5])
		if err1 != nil || err2 != nil || len(key) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
			return fmt.Errorf("%w: key or signature", ErrInvalidCheckpoint)
		}
		c.PublicKey, c.Signature = key, sig
	}
	*cp = c
	return nil
}

// Signed reports whether the checkpoint carries a signature.
func (cp Checkpoint) Signed() bool { return len(cp.Signature) > 0 }

// VerifySignature checks the checkpoint's signature against pub (or, when
// pub is nil, the key the checkpoint names, which proves only that it was
// not altered since signing).
func (cp Checkpoint) VerifySignature(pub ed25519.PublicKey) error {
	if !cp.Signed() {
		return fmt.Errorf("%w: not signed", ErrInvalidCheckpoint)
	}
	if pub == nil {
		pub = cp.PublicKey
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, cp.signedText(), cp.Signature) {
		return fmt.Errorf("%w: signature does not verify", ErrInvalidCheckpoint)
	}
	return nil
}

// verifySignature checks signed checkpoints; with a configured key,
// unsigned ones are refused too.
func (cp Checkpoint) verifySignature(pub ed25519.PublicKey) error {
	if cp.Seq < 0 || (cp.Seq > 0 && len(cp.Hash) != HashSize) {
		return fmt.Errorf("%w: seq %d with a %d-byte hash", ErrInvalidCheckpoint, cp.Seq, len(cp.Hash))
	}
	if !cp.Signed() {
		if pub != nil {
			return fmt.Errorf("%w: unsigned, and the logger has a checkpoint key", ErrInvalidCheckpoint)
		}
		return nil
	}
	return cp.VerifySignature(pub)
}

// Checkpoint returns the current head of the chain (Seq 0 and the genesis
// hash, 32 zero bytes, for an empty log), signed when the logger has a key (WithCheckpointKey).
// The chain is global: through any view, the head is that of every
// tenant's events (a position and a hash, nothing of their content).
func (l *Logger) Checkpoint(ctx context.Context) (Checkpoint, error) {
	if l.denied != nil {
		return Checkpoint{}, l.denied
	}
	if l.c.isClosed() {
		return Checkpoint{}, opErr("checkpoint", ErrClosed)
	}
	seq, hash, err := l.c.store.Head(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if seq == 0 {
		hash = append([]byte(nil), genesisHash...) // what seq 1 will chain to
	}
	return l.c.opts.sign(Checkpoint{Seq: seq, Hash: hash, Time: time.Now().UTC()}), nil
}

func (o *options) sign(cp Checkpoint) Checkpoint {
	if o.checkpointKey != nil {
		cp.PublicKey = o.checkpointPub
		cp.Signature = ed25519.Sign(o.checkpointKey, cp.signedText())
	}
	return cp
}

// ReadCheckpoints reads a checkpoint file written by WithCheckpointFile:
// one checkpoint per line.
func ReadCheckpoints(path string) ([]Checkpoint, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, opErr("read checkpoints", err)
	}
	var out []Checkpoint
	for i, line := range strings.Split(string(raw), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var cp Checkpoint
		if err := cp.UnmarshalText([]byte(line)); err != nil {
			return nil, opErr(fmt.Sprintf("read checkpoints: %s line %d", path, i+1), err)
		}
		out = append(out, cp)
	}
	return out, nil
}

// checkpointer appends a checkpoint line to a file every N events or T
// time, after commits and from a ticker.
type checkpointer struct {
	mu       sync.Mutex // the ticker and the leaders both write
	path     string
	every    int64
	interval time.Duration
	lastSeq  int64
	lastTime time.Time
}

// after is called by the writer after a commit whose last Seq is head.
func (c *core) checkpointAfter(head int64, hash []byte, force bool) {
	cp := c.checkpoints
	if cp == nil {
		return
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if head == 0 || head <= cp.lastSeq {
		return
	}
	due := force ||
		(cp.every > 0 && head-cp.lastSeq >= cp.every) ||
		(cp.interval > 0 && time.Since(cp.lastTime) >= cp.interval)
	if !due {
		return
	}
	text, _ := c.opts.sign(Checkpoint{Seq: head, Hash: hash, Time: time.Now().UTC()}).MarshalText()
	f, err := os.OpenFile(cp.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = f.Write(append(text, '\n'))
		if err == nil {
			err = f.Sync()
		}
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		c.opts.errorHandler(nil, opErr("write checkpoint", err))
		return
	}
	cp.lastSeq, cp.lastTime = head, time.Now()
}
