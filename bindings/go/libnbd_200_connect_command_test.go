package libnbd

import "testing"

func Test200ConnectCommand(t *testing.T) {
	h := connectedHandle(t, "memory", "size=1M")
	size, err := h.GetSize()
	mustOK(t, "GetSize", err)
	if size != 1<<20 {
		t.Fatalf("size %d", size)
	}
	ro, err := h.IsReadOnly()
	mustOK(t, "IsReadOnly", err)
	flush, err := h.CanFlush()
	mustOK(t, "CanFlush", err)
	if ro || !flush {
		t.Fatalf("read-only %v, can flush %v", ro, flush)
	}
	proto, err := h.GetProtocol()
	mustOK(t, "GetProtocol", err)
	if *proto != "newstyle-fixed" {
		t.Fatalf("protocol %q", *proto)
	}
	state, err := h.AioIsReady()
	mustOK(t, "AioIsReady", err)
	if !state {
		t.Fatalf("not ready after connecting")
	}
}
