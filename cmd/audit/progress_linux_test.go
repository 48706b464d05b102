package main_test

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/trailkit/audit"
)

// openPTY opens a pseudo-terminal: its master side, and the terminal.
func openPTY() (master, term *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	var unlock int32
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		_ = master.Close()
		return nil, nil, errno
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		_ = master.Close()
		return nil, nil, errno
	}
	term, err = os.OpenFile("/dev/pts/"+strconv.FormatUint(uint64(n), 10), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		_ = master.Close()
		return nil, nil, err
	}
	return master, term, nil
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestExportProgressOnATerminal: with stderr on a terminal, a long export
// shows its progress there, rewriting one line, and ends it with what it
// exported; the export itself, on stdout, holds none of it. (The export
// is long because nobody reads its stdout for a while.) Without a
// terminal, stderr stays empty: every other test checks that.
func TestExportProgressOnATerminal(t *testing.T) {
	t.Parallel()
	master, term, err := openPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()
	var screen syncBuffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(&screen, master) // ends with EIO once the terminal is closed
	}()

	stdoutR, stdoutW, err := os.Pipe()
	require.NoError(t, err)
	defer stdoutR.Close()
	cmd := execCommand(t, "export", "--db", fixture, "--all-tenants")
	cmd.Stdout, cmd.Stderr = stdoutW, term
	require.NoError(t, cmd.Start())
	require.NoError(t, stdoutW.Close())
	require.NoError(t, term.Close())

	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(screen.String(), "exporting: ") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	require.Contains(t, screen.String(), "\rexporting: ", "progress while the export waits for its reader")
	require.Contains(t, screen.String(), " of 600 events (")
	export, err := io.ReadAll(stdoutR)
	require.NoError(t, err)
	require.NoError(t, cmd.Wait())
	<-copied

	require.Regexp(t, `\rexported 600 events in [0-9.]+m?s +\r?\n`, screen.String())
	require.NotContains(t, string(export), "exporting")
	rep, err := audit.VerifyExport(bytes.NewReader(export), nil)
	require.NoError(t, err)
	require.Equal(t, audit.VerifyReport{Checked: fixtureEvents, OK: true}, rep)
}
