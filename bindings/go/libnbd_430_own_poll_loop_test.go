package libnbd

import (
	"bytes"
	"syscall"
	"testing"
)

// The caller's own event loop (select(2) on AioGetFd in AioGetDirection's
// sense, then AioNotifyRead/Write): a copy from one handle to another
// with 16 reads in flight, the reads' completion callbacks queueing the
// writes.
func Test430OwnPollLoop(t *testing.T) {
	const size = 4 << 20
	const bs = 65536
	src := connectedHandle(t, "pattern", "size=4M")
	dst := connectedHandle(t, "memory", "size=4M")
	type pending struct {
		buf    AioBuffer
		offset uint64
	}
	var writes []pending
	read, written := 0, 0
	soff := uint64(0)
	for {
		sIn, err := src.AioInFlight()
		mustOK(t, "AioInFlight", err)
		dIn, err := dst.AioInFlight()
		mustOK(t, "AioInFlight", err)
		if soff >= size && sIn == 0 && dIn == 0 && len(writes) == 0 {
			break
		}
		if soff < size && sIn < 16 {
			buf := MakeAioBuffer(bs)
			off := soff
			var o AioPreadOptargs
			o.CompletionCallbackSet = true
			o.CompletionCallback = func(error *int) int {
				if *error != 0 {
					t.Errorf("read at %d failed: %d", off, *error)
				}
				read += bs
				writes = append(writes, pending{buf, off})
				return 1
			}
			_, err := src.AioPread(buf, soff, &o)
			mustOK(t, "AioPread", err)
			soff += bs
		}
		for _, w := range writes {
			w := w
			var o AioPwriteOptargs
			o.CompletionCallbackSet = true
			o.CompletionCallback = func(error *int) int {
				if *error != 0 {
					t.Errorf("write at %d failed: %d", w.offset, *error)
				}
				written += bs
				w.buf.Free()
				return 1
			}
			_, err := dst.AioPwrite(w.buf, w.offset, &o)
			mustOK(t, "AioPwrite", err)
		}
		writes = writes[:0]
		var rfds, wfds syscall.FdSet
		nfd := 0
		for _, h := range []*Libnbd{src, dst} {
			fd, err := h.AioGetFd()
			mustOK(t, "AioGetFd", err)
			dir, err := h.AioGetDirection()
			mustOK(t, "AioGetDirection", err)
			if uint32(dir)&AIO_DIRECTION_READ != 0 {
				rfds.Bits[fd/64] |= 1 << (uint(fd) % 64)
			}
			if uint32(dir)&AIO_DIRECTION_WRITE != 0 {
				wfds.Bits[fd/64] |= 1 << (uint(fd) % 64)
			}
			if fd >= nfd {
				nfd = fd + 1
			}
		}
		tv := syscall.Timeval{Sec: 5}
		for {
			_, err = syscall.Select(nfd, &rfds, &wfds, nil, &tv)
			if err != syscall.EINTR {
				break
			}
		}
		mustOK(t, "select", err)
		for _, h := range []*Libnbd{src, dst} {
			fd, _ := h.AioGetFd()
			if rfds.Bits[fd/64]&(1<<(uint(fd)%64)) != 0 {
				mustOK(t, "AioNotifyRead", h.AioNotifyRead())
			} else if wfds.Bits[fd/64]&(1<<(uint(fd)%64)) != 0 {
				mustOK(t, "AioNotifyWrite", h.AioNotifyWrite())
			}
		}
	}
	if read != size || written != size {
		t.Fatalf("read %d, wrote %d of %d", read, written, size)
	}
	a := make([]byte, bs)
	b := make([]byte, bs)
	for _, off := range []uint64{0, size / 2, size - bs} {
		mustOK(t, "Pread", src.Pread(a, off, nil))
		mustOK(t, "Pread", dst.Pread(b, off, nil))
		if !bytes.Equal(a, b) {
			t.Fatalf("the copy differs at %d", off)
		}
	}
}
