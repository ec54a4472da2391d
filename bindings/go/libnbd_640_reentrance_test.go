package libnbd

import (
	"syscall"
	"testing"
)

// A callback calling a locked method of its own handle gets EDEADLK (it
// would wait for itself); the getters that take no lock answer; the
// handle works afterwards.
func Test640Reentrance(t *testing.T) {
	h := connectedHandle(t, "memory", "size=1M")
	var inner error
	var debug bool
	var debugErr error
	buf := MakeAioBuffer(512)
	defer buf.Free()
	var o AioPreadOptargs
	o.CompletionCallbackSet = true
	o.CompletionCallback = func(error *int) int {
		_, inner = h.GetSize()
		debug, debugErr = h.GetDebug()
		return 1
	}
	_, err := h.AioPread(buf, 0, &o)
	mustOK(t, "AioPread", err)
	for inner == nil && debugErr == nil {
		_, err := h.Poll(1000)
		mustOK(t, "Poll", err)
	}
	expectErrno(t, "GetSize inside a callback", inner, syscall.EDEADLK)
	if debugErr != nil || debug {
		t.Fatalf("GetDebug inside a callback: %v, %v", debug, debugErr)
	}
	size, err := h.GetSize()
	mustOK(t, "GetSize afterwards", err)
	if size != 1<<20 {
		t.Fatalf("size %d", size)
	}
}
