package libnbd

import (
	"os"
	"syscall"
	"testing"
)

// nbd+ssh:// URIs through the ssh stand-in of tests/ssh-stand-in (the test
// step puts it first on PATH and names its log in NBD_TEST_SSH_LOG).
func Test730SshUri(t *testing.T) {
	log := os.Getenv("NBD_TEST_SSH_LOG")
	if log == "" {
		t.Skip("NBD_TEST_SSH_LOG is not set: run through cargo xtask test")
	}
	os.Remove(log)
	h := newTestHandle(t)
	mustOK(t, "ConnectUri", h.ConnectUri("nbd+ssh://carol@example.com/?socket=/run/nbd.sock"))
	size, err := h.GetSize()
	mustOK(t, "GetSize", err)
	if size != 1<<20 {
		t.Fatalf("size %d", size)
	}
	argv, err := os.ReadFile(log)
	mustOK(t, "reading the ssh log", err)
	if string(argv) != "-l\ncarol\n--\nexample.com\nnc -U '/run/nbd.sock'\n" {
		t.Fatalf("ssh ran with %q", argv)
	}
	h.Close()
	os.Remove(log)
	b := newTestHandle(t)
	expectErrno(t, "an option-like host", b.ConnectUri("nbd+ssh://-oProxyCommand=x/"), syscall.EINVAL)
	if _, err := os.Stat(log); err == nil {
		t.Fatalf("ssh ran for an option-like host")
	}
}
