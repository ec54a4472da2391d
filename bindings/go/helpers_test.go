package libnbd

// Helpers of the tests: servers started by the tests themselves, on Unix
// sockets in a private directory (or 127.0.0.1), stopped by PID when the
// test ends. Their names are not those of libnbd's own Go tests, which
// can be added to the package beside these.

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// nbdkitArgv is the argv of an nbdkit serving over stdin/stdout, for
// ConnectCommand.
func nbdkitArgv(args ...string) []string {
	return append([]string{"nbdkit", "-s", "--exit-with-parent"}, args...)
}

// newTestHandle is a new handle, closed when the test ends.
func newTestHandle(t *testing.T) *Libnbd {
	t.Helper()
	h, err := Create()
	if err != nil {
		t.Fatalf("Create: %s", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// connectedHandle is a new handle connected to nbdkit with args.
func connectedHandle(t *testing.T, args ...string) *Libnbd {
	t.Helper()
	h := newTestHandle(t)
	if err := h.ConnectCommand(nbdkitArgv(args...)); err != nil {
		t.Fatalf("ConnectCommand: %s", err)
	}
	return h
}

// startUnixServer starts nbdkit with args on a Unix socket and returns the
// socket's path; the server is killed when the test ends.
func startUnixServer(t *testing.T, args ...string) string {
	t.Helper()
	sock, _ := startUnixServerProcess(t, args...)
	return sock
}

// startUnixServerProcess is startUnixServer, also returning the server's
// process.
func startUnixServerProcess(t *testing.T, args ...string) (string, *exec.Cmd) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "nbd.sock")
	cmd := startListening(t, sock, append([]string{"nbdkit", "-f", "-U", sock}, args...))
	return sock, cmd
}

// startListening runs argv, a server that creates the Unix socket sock,
// and waits for the socket; the server is killed (if still running) when
// the test ends. It returns the server's process.
func startListening(t *testing.T, sock string, argv []string) *exec.Cmd {
	t.Helper()
	os.Remove(sock)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %s", argv[0], err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for i := 0; i < 1000; i++ {
		if _, err := os.Stat(sock); err == nil {
			return cmd
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not create %s", argv[0], sock)
	return nil
}

// expectErrno fails the test unless err is a *LibnbdError with errno.
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

// blockPattern is n bytes that differ from block to block.
func blockPattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*7 + i/97)
	}
	return b
}

// repositoryFile is a file of this repository, found from the package's
// directory (bindings/go).
func repositoryFile(path string) string {
	return filepath.Join("..", "..", path)
}
