package libnbd

import (
	"bytes"
	"sync"
	"testing"
)

// One handle shared by goroutines: synchronous calls from eight of them,
// and aio commands whose completion callbacks run on whichever goroutine
// polls.
func Test810Goroutines(t *testing.T) {
	h := connectedHandle(t, "memory", "size=8M")
	const bs = 65536
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				off := uint64((g*8 + i) * bs)
				if err := h.Pwrite(blockPattern(g*8+i, bs), off, nil); err != nil {
					errs <- err
					return
				}
				got := make([]byte, bs)
				if err := h.Pread(got, off, nil); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, blockPattern(g*8+i, bs)) {
					t.Errorf("goroutine %d block %d reads back different bytes", g, i)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a goroutine's call failed: %s", err)
	}

	var mu sync.Mutex
	done := 0
	bufs := make([]AioBuffer, 32)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g * 8; i < g*8+8; i++ {
				bufs[i] = MakeAioBuffer(bs)
				var o AioPreadOptargs
				o.CompletionCallbackSet = true
				o.CompletionCallback = func(error *int) int {
					mu.Lock()
					done++
					mu.Unlock()
					return 1
				}
				if _, err := h.AioPread(bufs[i], uint64(i*bs), &o); err != nil {
					t.Errorf("AioPread: %s", err)
				}
			}
		}(g)
	}
	wg.Wait()
	for {
		mu.Lock()
		n := done
		mu.Unlock()
		if n == 32 {
			break
		}
		_, err := h.Poll(5000)
		mustOK(t, "Poll", err)
	}
	for i, b := range bufs {
		if !bytes.Equal(b.Bytes(), blockPattern(i, bs)) {
			t.Fatalf("aio block %d differs", i)
		}
		b.Free()
	}
}
