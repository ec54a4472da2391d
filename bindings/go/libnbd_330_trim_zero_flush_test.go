package libnbd

import (
	"bytes"
	"testing"
)

func Test330TrimZeroFlushCache(t *testing.T) {
	h := connectedHandle(t, "memory", "size=1M")
	mustOK(t, "Pwrite", h.Pwrite(blockPattern(1, 65536), 0, nil))
	mustOK(t, "Trim", h.Trim(4096, 0, nil))
	mustOK(t, "Zero", h.Zero(4096, 8192, nil))
	mustOK(t, "Flush", h.Flush(nil))
	mustOK(t, "Cache", h.Cache(4096, 0, nil))
	got := make([]byte, 16384)
	mustOK(t, "Pread", h.Pread(got, 0, nil))
	zero := make([]byte, 4096)
	if !bytes.Equal(got[:4096], zero) || !bytes.Equal(got[8192:12288], zero) {
		t.Fatalf("trimmed or zeroed ranges do not read as zeroes")
	}
	if !bytes.Equal(got[4096:8192], blockPattern(1, 65536)[4096:8192]) {
		t.Fatalf("an untouched range changed")
	}
}
