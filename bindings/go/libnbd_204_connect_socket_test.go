package libnbd

import (
	"net"
	"syscall"
	"testing"
)

// scenarios: 207 209

func Test204ConnectSocket(t *testing.T) {
	sock := startUnixServer(t, "memory", "size=1M")
	conn, err := net.Dial("unix", sock)
	mustOK(t, "dial", err)
	f, err := conn.(*net.UnixConn).File()
	mustOK(t, "File", err)
	// The library owns the descriptor it is given: hand it a duplicate.
	fd, err := syscall.Dup(int(f.Fd()))
	mustOK(t, "dup", err)
	f.Close()
	conn.Close()
	h := newTestHandle(t)
	mustOK(t, "ConnectSocket", h.ConnectSocket(fd))
	size, err := h.GetSize()
	mustOK(t, "GetSize", err)
	if size != 1<<20 {
		t.Fatalf("size %d", size)
	}
	// Connecting a connected handle is refused.
	expectErrno(t, "a second connect", h.ConnectUnix(sock), syscall.EINVAL)

	// A server that cannot start, and a socket nobody listens on, fail
	// the call.
	bad := newTestHandle(t)
	if err := bad.ConnectCommand([]string{"false"}); err == nil {
		t.Fatalf("connecting to `false` succeeded")
	}
	none := newTestHandle(t)
	if err := none.ConnectUnix(t.TempDir() + "/nobody.sock"); err == nil {
		t.Fatalf("connecting to a missing socket succeeded")
	}
}
