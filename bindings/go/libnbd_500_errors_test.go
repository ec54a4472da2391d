package libnbd

import (
	"errors"
	"syscall"
	"testing"
)

// scenarios: 520 530

func Test500Errors(t *testing.T) {
	h := newTestHandle(t)
	buf := make([]byte, 512)
	err := h.Pread(buf, 0, nil)
	expectErrno(t, "Pread before connecting", err, syscall.ENOTCONN)
	var e *LibnbdError
	errors.As(err, &e)
	if e.Op != "pread" || e.Errmsg == "" || e.Error() == "" {
		t.Fatalf("error fields: %+v", e)
	}

	ro := connectedHandle(t, "-r", "memory", "size=1M")
	expectErrno(t, "Pwrite to a read-only export", ro.Pwrite(buf, 0, nil), syscall.EPERM)

	// The server's own error (nbdkit's error filter) comes back with its
	// errno, and the handle keeps working.
	bad := connectedHandle(t, "--filter=error", "memory", "size=1M", "error=EIO", "error-pread-rate=1")
	expectErrno(t, "Pread failing on the server", bad.Pread(buf, 0, nil), syscall.EIO)
	mustOK(t, "Pwrite after a failed read", bad.Pwrite(buf, 0, nil))
}
