package libnbd

import "testing"

func Test210OptAbort(t *testing.T) {
	h := newTestHandle(t)
	mustOK(t, "SetOptMode", h.SetOptMode(true))
	mustOK(t, "ConnectCommand", h.ConnectCommand(nbdkitArgv("null")))
	neg, err := h.AioIsNegotiating()
	mustOK(t, "AioIsNegotiating", err)
	if !neg {
		t.Fatalf("not negotiating in opt mode")
	}
	mustOK(t, "OptAbort", h.OptAbort())
	closed, err := h.AioIsClosed()
	mustOK(t, "AioIsClosed", err)
	if !closed {
		t.Fatalf("not closed after OptAbort")
	}
	if _, err := h.GetSize(); err == nil {
		t.Fatalf("GetSize after OptAbort succeeded")
	}
}
