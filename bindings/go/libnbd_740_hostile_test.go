package libnbd

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

// The hostile server of tests/hostile: a read the server covers only in
// part fails with EIO, bad block status fails with EPROTO and the
// connection lives on, an endless export list is cut off, and a server
// writing byte by byte still gives correct data.
func Test740Hostile(t *testing.T) {
	server := os.Getenv("NBD_TEST_HOSTILE")
	if server == "" {
		server = repositoryFile("tests/hostile/nbd-hostile-server.py")
	}
	hostile := func(scenario string, setup func(*Libnbd)) *Libnbd {
		h := newTestHandle(t)
		if setup != nil {
			setup(h)
		}
		mustOK(t, "ConnectCommand "+scenario,
			h.ConnectCommand([]string{"python3", server, "--scenario", scenario}))
		return h
	}

	h := hostile("short-read", nil)
	buf := make([]byte, 4096)
	err := h.Pread(buf, 0, nil)
	expectErrno(t, "a short read", err, syscall.EIO)
	if !strings.Contains(err.Error(), "covered") {
		t.Fatalf("the message does not say what was covered: %s", err)
	}

	h = hostile("bs-zero-length", func(h *Libnbd) {
		mustOK(t, "AddMetaContext", h.AddMetaContext(CONTEXT_BASE_ALLOCATION))
	})
	calls := 0
	err = h.BlockStatus(65536, 0, func(string, uint64, []uint32, *int) int {
		calls++
		return 0
	}, nil)
	expectErrno(t, "a zero-length extent", err, syscall.EPROTO)
	if calls != 0 {
		t.Fatalf("the extent callback saw the bad extent")
	}
	small := make([]byte, 512)
	mustOK(t, "Pread after the bad block status", h.Pread(small, 0, nil))
	if small[1] != 1 {
		t.Fatalf("the connection does not read right after the bad block status")
	}

	h = hostile("list-flood", func(h *Libnbd) { mustOK(t, "SetOptMode", h.SetOptMode(true)) })
	_, err = h.OptList(func(string, string) int { return 0 })
	expectErrno(t, "an endless export list", err, syscall.EPROTO)

	h = hostile("trickle", nil)
	mustOK(t, "Pread trickled", h.Pread(buf, 1000, nil))
	for i, b := range buf {
		if b != byte((1000+i)%251) {
			t.Fatalf("trickled data differs at %d", i)
		}
	}
}
