package libnbd

import (
	"sync/atomic"
	"testing"
)

// scenarios: 703

func Test700Shutdown(t *testing.T) {
	h := connectedHandle(t, "memory", "size=1M")
	buf := FromBytes(blockPattern(2, 4096))
	defer buf.Free()
	done := 0
	var o AioPwriteOptargs
	o.CompletionCallbackSet = true
	o.CompletionCallback = func(error *int) int {
		if *error == 0 {
			done++
		}
		return 1
	}
	_, err := h.AioPwrite(buf, 0, &o)
	mustOK(t, "AioPwrite", err)
	mustOK(t, "Shutdown", h.Shutdown(nil))
	closed, err := h.AioIsClosed()
	mustOK(t, "AioIsClosed", err)
	if done != 1 || !closed {
		t.Fatalf("after Shutdown: %d writes done, closed %v", done, closed)
	}
	if err := h.Pread(make([]byte, 512), 0, nil); err == nil {
		t.Fatalf("Pread after Shutdown succeeded")
	}

	// Close with a command in flight: the command's callback is released
	// (libnbd does not call a completion callback from close).
	before := atomic.LoadInt64(&liveCallbacks)
	c, err := Create()
	mustOK(t, "Create", err)
	mustOK(t, "ConnectCommand", c.ConnectCommand(nbdkitArgv("--filter=delay", "memory", "size=1M", "delay-read=5")))
	r := MakeAioBuffer(512)
	defer r.Free()
	var ro AioPreadOptargs
	ro.CompletionCallbackSet = true
	ro.CompletionCallback = func(error *int) int { return 1 }
	_, err = c.AioPread(r, 0, &ro)
	mustOK(t, "AioPread", err)
	if atomic.LoadInt64(&liveCallbacks) != before+1 {
		t.Fatalf("the read's callback is not held")
	}
	c.Close()
	if n := atomic.LoadInt64(&liveCallbacks); n != before {
		t.Fatalf("closing with a read in flight left %d callbacks", n-before)
	}
}
