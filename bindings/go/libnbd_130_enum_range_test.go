package libnbd

import (
	"syscall"
	"testing"
)

func Test130OutOfRange(t *testing.T) {
	h := newTestHandle(t)
	expectErrno(t, "SetTls(TLS_REQUIRE + 1)", h.SetTls(TLS_REQUIRE+1), syscall.EINVAL)
	tls, err := h.GetTls()
	mustOK(t, "GetTls", err)
	if tls != TLS_DISABLE {
		t.Fatalf("a refused SetTls changed the setting to %v", tls)
	}
	expectErrno(t, "SetHandshakeFlags(MASK + 1)", h.SetHandshakeFlags(HANDSHAKE_FLAG_MASK+1), syscall.EINVAL)
	expectErrno(t, "SetStrictMode(MASK + 1)", h.SetStrictMode(STRICT_MASK+1), syscall.EINVAL)
	// A flags optarg beyond the call's set, on a connected handle.
	c := connectedHandle(t, "null", "size=1M")
	var o ShutdownOptargs
	o.FlagsSet = true
	o.Flags = SHUTDOWN_MASK + 1
	expectErrno(t, "Shutdown(bad flags)", c.Shutdown(&o), syscall.EINVAL)
}
