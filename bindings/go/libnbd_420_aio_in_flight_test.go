package libnbd

import (
	"bytes"
	"testing"
)

func Test420SixtyFourInFlight(t *testing.T) {
	h := connectedHandle(t, "memory", "size=8M")
	const n = 64
	const bs = 65536
	bufs := make([]AioBuffer, n)
	for i := range bufs {
		bufs[i] = FromBytes(blockPattern(i, bs))
		defer bufs[i].Free()
	}
	done := 0
	for i := range bufs {
		var o AioPwriteOptargs
		o.CompletionCallbackSet = true
		o.CompletionCallback = func(error *int) int {
			if *error != 0 {
				t.Errorf("write failed: %d", *error)
			}
			done++
			return 1
		}
		_, err := h.AioPwrite(bufs[i], uint64(i*bs), &o)
		mustOK(t, "AioPwrite", err)
	}
	inFlight, err := h.AioInFlight()
	mustOK(t, "AioInFlight", err)
	if inFlight == 0 {
		t.Fatalf("nothing in flight after 64 submissions")
	}
	for done < n {
		_, err := h.Poll(5000)
		mustOK(t, "Poll", err)
	}
	reads := make([]AioBuffer, n)
	cookies := make([]uint64, n)
	for i := range reads {
		reads[i] = MakeAioBuffer(bs)
		defer reads[i].Free()
		cookies[i], err = h.AioPread(reads[i], uint64(i*bs), nil)
		mustOK(t, "AioPread", err)
	}
	for i := range reads {
		for {
			ok, err := h.AioCommandCompleted(cookies[i])
			mustOK(t, "AioCommandCompleted", err)
			if ok {
				break
			}
			_, err = h.Poll(5000)
			mustOK(t, "Poll", err)
		}
		if !bytes.Equal(reads[i].Bytes(), blockPattern(i, bs)) {
			t.Fatalf("block %d reads back different bytes", i)
		}
	}
}
