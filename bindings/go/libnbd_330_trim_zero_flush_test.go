package libnbd

import (
	"bytes"
	"testing"
)

func Test330TrimZeroFlushCache(t *testing.T) {
	h := connected(t, "memory", "size=1M")
	must(t, "Pwrite", h.Pwrite(pattern(1, 65536), 0, nil))
	must(t, "Trim", h.Trim(4096, 0, nil))
	must(t, "Zero", h.Zero(4096, 8192, nil))
	must(t, "Flush", h.Flush(nil))
	must(t, "Cache", h.Cache(4096, 0, nil))
	got := make([]byte, 16384)
	must(t, "Pread", h.Pread(got, 0, nil))
	zero := make([]byte, 4096)
	if !bytes.Equal(got[:4096], zero) || !bytes.Equal(got[8192:12288], zero) {
		t.Fatalf("trimmed or zeroed ranges do not read as zeroes")
	}
	if !bytes.Equal(got[4096:8192], pattern(1, 65536)[4096:8192]) {
		t.Fatalf("an untouched range changed")
	}
}
