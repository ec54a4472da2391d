package libnbd

import (
	"bytes"
	"testing"
)

func Test300PwritePread(t *testing.T) {
	h := connectedHandle(t, "memory", "size=1M")
	data := blockPattern(3, 12345)
	mustOK(t, "Pwrite", h.Pwrite(data, 1001, nil))
	var fua PwriteOptargs
	fua.FlagsSet = true
	fua.Flags = CMD_FLAG_FUA
	mustOK(t, "Pwrite FUA", h.Pwrite(data[:512], 200000, &fua))
	got := make([]byte, len(data))
	mustOK(t, "Pread", h.Pread(got, 1001, nil))
	if !bytes.Equal(got, data) {
		t.Fatalf("read back different bytes")
	}
	small := make([]byte, 512)
	mustOK(t, "Pread", h.Pread(small, 200000, nil))
	if !bytes.Equal(small, data[:512]) {
		t.Fatalf("the FUA write reads back different bytes")
	}
	// An empty read is refused by strict mode, not a crash.
	if err := h.Pread(nil, 0, nil); err == nil {
		t.Fatalf("a zero-length read succeeded in strict mode")
	}
}
