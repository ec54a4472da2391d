package libnbd

// Helpers of the tests: servers started by the tests themselves, on Unix
// sockets in a private directory, stopped by PID when the test ends.

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// nbdkit is the argv of an nbdkit serving over stdin/stdout, for
// ConnectCommand.
func nbdkitArgv(args ...string) []string {
	return append([]string{"nbdkit", "-s", "--exit-with-parent"}, args...)
}

// handle is a new handle, closed when the test ends.
func newTestHandle(t *testing.T) *Libnbd {
	t.Helper()
	h, err := Create()
	if err != nil {
		t.Fatalf("Create: %s", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// connected is a new handle connected to nbdkit with args.
func connectedHandle(t *testing.T, args ...string) *Libnbd {
	t.Helper()
	h := newTestHandle(t)
	if err := h.ConnectCommand(nbdkitArgv(args...)); err != nil {
		t.Fatalf("ConnectCommand: %s", err)
	}
	return h
}

// unixServer starts nbdkit with args on a Unix socket and returns the
// socket's path; the server is killed when the test ends.
func startUnixServer(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "nbd.sock")
	argv := append([]string{"-f", "-U", sock}, args...)
	cmd := exec.Command("nbdkit", argv...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nbdkit: %s", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for i := 0; i < 500; i++ {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nbdkit did not create %s", sock)
	return ""
}

// wantErrno fails the test unless err is a *LibnbdError with errno.
func expectErrno(t *testing.T, what string, err error, errno syscall.Errno) {
	t.Helper()
	var e *LibnbdError
	if !errors.As(err, &e) {
		t.Fatalf("%s: expected a *LibnbdError with %s, got %v", what, errno, err)
	}
	if e.Errno != errno {
		t.Fatalf("%s: errno %d (%s), expected %s: %s", what, int(e.Errno), e.Errno, errno, e)
	}
	if !errors.Is(err, errno) {
		t.Fatalf("%s: errors.Is does not see %s", what, errno)
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %s", what, err)
	}
}

// pattern is n bytes that differ from block to block.
func blockPattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*7 + i/97)
	}
	return b
}
