package libnbd

import "testing"

func Test210OptAbort(t *testing.T) {
	h := handle(t)
	must(t, "SetOptMode", h.SetOptMode(true))
	must(t, "ConnectCommand", h.ConnectCommand(nbdkit("null")))
	neg, err := h.AioIsNegotiating()
	must(t, "AioIsNegotiating", err)
	if !neg {
		t.Fatalf("not negotiating in opt mode")
	}
	must(t, "OptAbort", h.OptAbort())
	closed, err := h.AioIsClosed()
	must(t, "AioIsClosed", err)
	if !closed {
		t.Fatalf("not closed after OptAbort")
	}
	if _, err := h.GetSize(); err == nil {
		t.Fatalf("GetSize after OptAbort succeeded")
	}
}
