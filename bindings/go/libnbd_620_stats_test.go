package libnbd

import "testing"

func Test620Stats(t *testing.T) {
	h := newTestHandle(t)
	bs0, err := h.StatsBytesSent()
	mustOK(t, "StatsBytesSent", err)
	if bs0 != 0 {
		t.Fatalf("bytes sent before connecting: %d", bs0)
	}
	mustOK(t, "ConnectCommand", h.ConnectCommand(nbdkitArgv("null")))
	bs1, _ := h.StatsBytesSent()
	cs1, _ := h.StatsChunksSent()
	br1, _ := h.StatsBytesReceived()
	cr1, _ := h.StatsChunksReceived()
	if cs1 == 0 || bs1 <= cs1 || cr1 == 0 || br1 <= cr1 {
		t.Fatalf("after the handshake: %d/%d sent, %d/%d received", bs1, cs1, br1, cr1)
	}
	mustOK(t, "Flush", h.Flush(nil))
	bs2, _ := h.StatsBytesSent()
	cs2, _ := h.StatsChunksSent()
	br2, _ := h.StatsBytesReceived()
	cr2, _ := h.StatsChunksReceived()
	if bs2 != bs1+28 || cs2 != cs1+1 || br2 <= br1 || cr2 != cr1+1 {
		t.Fatalf("a flush moved %d/%d sent, %d/%d received", bs2-bs1, cs2-cs1, br2-br1, cr2-cr1)
	}
}
