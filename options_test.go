package audit_test

import (
	"crypto/ed25519"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// TestOptionsRefused: an option out of range, options that contradict each
// other, and an option given to a constructor it does not configure are
// errors wrapping ErrInvalidOption, never dropped quietly; the file is not
// even created.
func TestOptionsRefused(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	other, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		opts []audit.Option
		want string
	}{
		{"batch of 0", []audit.Option{audit.WithMaxBatch(0)}, "WithMaxBatch"},
		{"negative metadata cap", []audit.Option{audit.WithMaxMetadataBytes(-1)}, "WithMaxMetadataBytes"},
		{"event cap of 0", []audit.Option{audit.WithMaxEventBytes(0)}, "WithMaxEventBytes"},
		{"metadata cap above the event cap", []audit.Option{audit.WithMaxEventBytes(1000)}, "larger than the event cap"},
		{"negative write timeout", []audit.Option{audit.WithWriteTimeout(-time.Second)}, "WithWriteTimeout"},
		{"no workers", []audit.Option{audit.WithListenerWorkers(0)}, "WithListenerWorkers"},
		{"short key", []audit.Option{audit.WithCheckpointKey(priv[:10])}, "WithCheckpointKey"},
		{"short public key", []audit.Option{audit.WithCheckpointPublicKey(ed25519.PublicKey{1})}, "WithCheckpointPublicKey"},
		{"keys of two pairs", []audit.Option{audit.WithCheckpointKey(priv), audit.WithCheckpointPublicKey(other)}, "not the public key"},
		{"negative checkpoint interval", []audit.Option{audit.WithCheckpointFile("", 0, -time.Second)}, "WithCheckpointFile"},
		{"nil bus", []audit.Option{audit.WithBus(nil)}, "WithBus"},
		{"nil handler", []audit.Option{audit.WithErrorHandler(nil)}, "WithErrorHandler"},
		{"unknown durability", []audit.Option{audit.WithDurability(7)}, "WithDurability"},
		{"busy timeout of 0", []audit.Option{audit.WithBusyTimeout(0)}, "WithBusyTimeout"},
		{"no readers", []audit.Option{audit.WithReaders(0)}, "WithReaders"},
		{"negative size cap", []audit.Option{audit.WithMaxBytes(-1)}, "WithMaxBytes"},
	} {
		path := filepath.Join(t.TempDir(), "audit.db")
		_, err := audit.Open(ctx, path, c.opts...)
		require.ErrorIs(t, err, audit.ErrInvalidOption, c.name)
		require.ErrorContains(t, err, c.want, c.name)
		require.Equal(t, 1, strings.Count(err.Error(), "audit:"), err.Error())
		require.NoFileExists(t, path, c.name)
	}

	// A SQLite setting given to New would have no effect: refused.
	store, err := audit.OpenSQLite(ctx, filepath.Join(t.TempDir(), "audit.db"), audit.WithDurability(audit.DurabilityFull))
	require.NoError(t, err)
	defer store.Close()
	for _, o := range []audit.Option{audit.WithDurability(audit.DurabilityFull), audit.WithBusyTimeout(time.Second), audit.WithReaders(2), audit.WithMaxBytes(1 << 20)} {
		_, err := audit.New(store, o)
		require.ErrorIs(t, err, audit.ErrInvalidOption)
		require.ErrorContains(t, err, "applies to Open and OpenSQLite only")
	}
	// And a Logger setting given to OpenSQLite.
	_, err = audit.OpenSQLite(ctx, filepath.Join(t.TempDir(), "audit.db"), audit.WithMaxBatch(8))
	require.ErrorIs(t, err, audit.ErrInvalidOption)
	require.ErrorContains(t, err, "WithMaxBatch applies to Open and New only")

	// Valid options together work, in any order.
	l, err := audit.Open(ctx, filepath.Join(t.TempDir(), "audit.db"),
		audit.WithMaxBatch(8), audit.WithDurability(audit.DurabilityFull), audit.WithMaxMetadataBytes(1000),
		audit.WithMaxEventBytes(2000), audit.WithCheckpointKey(priv), audit.WithCheckpointPublicKey(priv.Public().(ed25519.PublicKey)))
	require.NoError(t, err)
	require.NoError(t, l.Close())
}
