package libnbd

import (
	"bytes"
	"testing"
)

// scenarios: 410

func Test400AioPreadPwrite(t *testing.T) {
	h := connectedHandle(t, "memory", "size=1M")
	w := FromBytes(blockPattern(9, 4096))
	defer w.Free()
	cookie, err := h.AioPwrite(w, 8192, nil)
	mustOK(t, "AioPwrite", err)
	for {
		done, err := h.AioCommandCompleted(cookie)
		mustOK(t, "AioCommandCompleted", err)
		if done {
			break
		}
		_, err = h.Poll(1000)
		mustOK(t, "Poll", err)
	}
	r := MakeAioBuffer(4096)
	defer r.Free()
	runs := 0
	var o AioPreadOptargs
	o.CompletionCallbackSet = true
	o.CompletionCallback = func(error *int) int {
		runs++
		if *error != 0 {
			t.Errorf("read failed: %d", *error)
		}
		return 1
	}
	cookie, err = h.AioPread(r, 8192, &o)
	mustOK(t, "AioPread", err)
	for runs == 0 {
		_, err := h.Poll(1000)
		mustOK(t, "Poll", err)
	}
	if !bytes.Equal(r.Bytes(), blockPattern(9, 4096)) {
		t.Fatalf("aio read back different bytes")
	}
	// Retired by the callback's 1: no longer completed here (false, as
	// for any cookie naming no completed command).
	if done, err := h.AioCommandCompleted(cookie); err != nil || done {
		t.Fatalf("a retired command: %v, %v", done, err)
	}
	n, err := h.AioInFlight()
	mustOK(t, "AioInFlight", err)
	if runs != 1 || n != 0 {
		t.Fatalf("completion ran %d times, %d in flight", runs, n)
	}
	// A freed buffer is refused, not used.
	var freed AioBuffer
	if _, err := h.AioPread(freed, 0, nil); err == nil {
		t.Fatalf("a freed AioBuffer was accepted")
	}
}
