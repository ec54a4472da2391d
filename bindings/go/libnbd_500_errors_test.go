package libnbd

import (
	"errors"
	"syscall"
	"testing"
)

// scenarios: 520 530

func Test500Errors(t *testing.T) {
	h := handle(t)
	buf := make([]byte, 512)
	err := h.Pread(buf, 0, nil)
	wantErrno(t, "Pread before connecting", err, syscall.ENOTCONN)
	var e *LibnbdError
	errors.As(err, &e)
	if e.Op != "pread" || e.Errmsg == "" || e.Error() == "" {
		t.Fatalf("error fields: %+v", e)
	}

	ro := connected(t, "-r", "memory", "size=1M")
	wantErrno(t, "Pwrite to a read-only export", ro.Pwrite(buf, 0, nil), syscall.EPERM)

	// The server's own error (nbdkit's error filter) comes back with its
	// errno, and the handle keeps working.
	bad := connected(t, "--filter=error", "memory", "size=1M", "error=EIO", "error-pread-rate=1")
	wantErrno(t, "Pread failing on the server", bad.Pread(buf, 0, nil), syscall.EIO)
	must(t, "Pwrite after a failed read", bad.Pwrite(buf, 0, nil))
}
