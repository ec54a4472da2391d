package libnbd

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// A handle the program drops is closed by its finalizer once the garbage
// collector finds it (its callbacks released then); a callback in use
// survives collections.
func Test940Finalizer(t *testing.T) {
	before := atomic.LoadInt64(&liveCallbacks)
	func() {
		h, err := Create()
		mustOK(t, "Create", err)
		mustOK(t, "ConnectCommand", h.ConnectCommand(nbdkitArgv("memory", "size=1M")))
		mustOK(t, "SetDebugCallback", h.SetDebugCallback(func(string, string) int { return 0 }))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for atomic.LoadInt64(&liveCallbacks) != before {
		if time.Now().After(deadline) {
			t.Fatalf("a dropped handle was never closed")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}

	// Callbacks in use survive collections.
	h := connectedHandle(t, "memory", "size=1M")
	done := 0
	bufs := make([]AioBuffer, 8)
	for i := range bufs {
		bufs[i] = MakeAioBuffer(4096)
		defer bufs[i].Free()
		var o AioPreadOptargs
		o.CompletionCallbackSet = true
		o.CompletionCallback = func(error *int) int {
			done++
			return 1
		}
		_, err := h.AioPread(bufs[i], uint64(i*4096), &o)
		mustOK(t, "AioPread", err)
	}
	runtime.GC()
	runtime.GC()
	for done < len(bufs) {
		_, err := h.Poll(1000)
		mustOK(t, "Poll", err)
		runtime.GC()
	}
}
