package libnbd

import (
	"bytes"
	"sync"
	"testing"
)

// Several handles on one multi-conn server, one per goroutine: each
// sees the others' flushed writes.
func Test820HandlesInGoroutines(t *testing.T) {
	sock := startUnixServer(t, "memory", "size=4M")
	const bs = 65536
	const n = 4
	handles := make([]*Libnbd, n)
	for i := range handles {
		handles[i] = newTestHandle(t)
		mustOK(t, "ConnectUnix", handles[i].ConnectUnix(sock))
		multi, err := handles[i].CanMultiConn()
		mustOK(t, "CanMultiConn", err)
		if !multi {
			t.Fatalf("nbdkit memory does not advertise multi-conn")
		}
	}
	var wg sync.WaitGroup
	for i, h := range handles {
		wg.Add(1)
		go func(i int, h *Libnbd) {
			defer wg.Done()
			if err := h.Pwrite(blockPattern(i, bs), uint64(i*bs), nil); err != nil {
				t.Errorf("Pwrite: %s", err)
			}
			if err := h.Flush(nil); err != nil {
				t.Errorf("Flush: %s", err)
			}
		}(i, h)
	}
	wg.Wait()
	for i, h := range handles {
		wg.Add(1)
		go func(i int, h *Libnbd) {
			defer wg.Done()
			other := (i + 1) % n
			got := make([]byte, bs)
			if err := h.Pread(got, uint64(other*bs), nil); err != nil {
				t.Errorf("Pread: %s", err)
			} else if !bytes.Equal(got, blockPattern(other, bs)) {
				t.Errorf("handle %d does not see handle %d's write", i, other)
			}
		}(i, h)
	}
	wg.Wait()
}
