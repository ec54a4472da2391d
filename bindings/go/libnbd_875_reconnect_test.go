package libnbd

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Reconnect (SetReconnectDelay, an extension): a file-backed nbdkit
// killed with 16 slow writes in flight and started again on the same
// socket: every write completes once the handle is back, and the data
// reads back.
func Test875Reconnect(t *testing.T) {
	const bs = 65536
	const n = 16
	dir := t.TempDir()
	sock := filepath.Join(dir, "sock")
	disk := filepath.Join(dir, "disk")
	f, err := os.Create(disk)
	mustOK(t, "creating the disk", err)
	mustOK(t, "sizing the disk", f.Truncate(n*bs))
	f.Close()
	first := startListening(t, sock, []string{"nbdkit", "-f", "-U", sock, "--filter=delay", "file", disk, "wdelay=2"})

	h := newTestHandle(t)
	mustOK(t, "SetReconnectDelay", h.SetReconnectDelay(10000))
	delay, err := h.GetReconnectDelay()
	mustOK(t, "GetReconnectDelay", err)
	if delay != 10000 {
		t.Fatalf("reconnect delay %d", delay)
	}
	mustOK(t, "ConnectUnix", h.ConnectUnix(sock))
	completed, failed := 0, 0
	bufs := make([]AioBuffer, n)
	for i := range bufs {
		bufs[i] = FromBytes(bytes.Repeat([]byte{byte(i + 1)}, bs))
		defer bufs[i].Free()
		var o AioPwriteOptargs
		o.CompletionCallbackSet = true
		o.CompletionCallback = func(error *int) int {
			if *error != 0 {
				failed++
			}
			completed++
			return 1
		}
		_, err := h.AioPwrite(bufs[i], uint64(i*bs), &o)
		mustOK(t, "AioPwrite", err)
	}
	for i := 0; i < 4; i++ {
		_, err := h.Poll(50)
		mustOK(t, "Poll", err)
	}
	inFlight, err := h.AioInFlight()
	mustOK(t, "AioInFlight", err)
	if inFlight != n {
		t.Fatalf("%d writes in flight", inFlight)
	}
	mustOK(t, "killing the server", first.Process.Kill())
	first.Wait()
	killed := time.Now()
	restarted := false
	for completed < n {
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("the writes hang (%d of %d completed)", completed, n)
		}
		if !restarted && time.Since(killed) > 300*time.Millisecond {
			startListening(t, sock, []string{"nbdkit", "-f", "-U", sock, "file", disk})
			restarted = true
		}
		_, err := h.Poll(50)
		mustOK(t, "Poll", err)
	}
	if failed != 0 {
		t.Fatalf("%d writes failed", failed)
	}
	reconnects, err := h.StatsReconnects()
	mustOK(t, "StatsReconnects", err)
	if reconnects != 1 {
		t.Fatalf("%d reconnects", reconnects)
	}
	mustOK(t, "Flush", h.Flush(nil))
	got := make([]byte, bs)
	for i := 0; i < n; i++ {
		mustOK(t, "Pread", h.Pread(got, uint64(i*bs), nil))
		if !bytes.Equal(got, bytes.Repeat([]byte{byte(i + 1)}, bs)) {
			t.Fatalf("block %d differs", i)
		}
	}
}
