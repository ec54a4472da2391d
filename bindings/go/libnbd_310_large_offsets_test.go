package libnbd

import (
	"encoding/binary"
	"testing"
)

// scenarios: 340 480 510

func Test310LargeOffsets(t *testing.T) {
	h := newTestHandle(t)
	before, err := h.GetHandleSize()
	mustOK(t, "GetHandleSize", err)
	mustOK(t, "ConnectCommand", h.ConnectCommand(nbdkitArgv("pattern", "size=8G")))
	after, err := h.GetHandleSize()
	mustOK(t, "GetHandleSize", err)
	if before == 0 || after <= before {
		t.Fatalf("handle size %d before connecting, %d after", before, after)
	}
	const off = uint64(5<<30 + 4096)
	buf := make([]byte, 16)
	mustOK(t, "Pread", h.Pread(buf, off, nil))
	if got := binary.BigEndian.Uint64(buf); got != off {
		t.Fatalf("read at %d came from %d", off, got)
	}
	// Strict mode refuses what the server would: beyond the end, and
	// an empty read.
	if err := h.Pread(buf, 8<<30, nil); err == nil {
		t.Fatalf("a read past the end was sent")
	}
	if err := h.Pread(buf[:0], 0, nil); err == nil {
		t.Fatalf("an empty read was sent")
	}
}

// pread_initialize: a failed read leaves the buffer zeroed, unless it is
// turned off.
func Test340PreadInitialize(t *testing.T) {
	h := connectedHandle(t, "--filter=error", "memory", "size=1M", "error=EIO", "error-pread-rate=1")
	buf := make([]byte, 512)
	for i := range buf {
		buf[i] = 0xff
	}
	if err := h.Pread(buf, 0, nil); err == nil {
		t.Fatalf("the read did not fail")
	}
	for _, b := range buf {
		if b != 0 {
			t.Fatalf("a failed read left old bytes in the buffer")
		}
	}
	mustOK(t, "SetPreadInitialize", h.SetPreadInitialize(false))
	for i := range buf {
		buf[i] = 0xff
	}
	if err := h.Pread(buf, 0, nil); err == nil {
		t.Fatalf("the read did not fail")
	}
	if buf[0] != 0xff {
		t.Fatalf("the buffer was cleared with pread_initialize off")
	}
}
