// A program written the way libnbd's Go binding is used, without
// anything specific to this project: copy one NBD export to another with
// the asynchronous API, reads in flight on the source, each read's
// completion callback queueing the write of its buffer, and the program's
// own poll(2) loop driving both handles. It then compares the two
// exports and prints what it did. Run with no arguments: both servers are
// nbdkit subprocesses.
package main

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"libguestfs.org/libnbd"
)

const (
	size     = 32 << 20
	bs       = 256 << 10
	inFlight = 16
)

type write struct {
	buf    libnbd.AioBuffer
	offset uint64
}

var queued []write
var bytesRead, bytesWritten uint64

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "aio_copy: %s: %s\n", what, err)
	os.Exit(1)
}

func open(name string, argv []string) *libnbd.Libnbd {
	h, err := libnbd.Create()
	if err != nil {
		fail("create", err)
	}
	h.SetHandleName(name)
	if err := h.ConnectCommand(argv); err != nil {
		fail("connect "+name, err)
	}
	return h
}

func events(h *libnbd.Libnbd) (int, int16) {
	fd, err := h.AioGetFd()
	if err != nil {
		fail("AioGetFd", err)
	}
	dir, err := h.AioGetDirection()
	if err != nil {
		fail("AioGetDirection", err)
	}
	var ev int16
	if uint32(dir)&libnbd.AIO_DIRECTION_READ != 0 {
		ev |= 0x1 // POLLIN
	}
	if uint32(dir)&libnbd.AIO_DIRECTION_WRITE != 0 {
		ev |= 0x4 // POLLOUT
	}
	return fd, ev
}

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

func poll(fds []pollFd) {
	for {
		_, _, e := syscall.Syscall(syscall.SYS_POLL,
			uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), uintptr(5000))
		if e == 0 {
			return
		}
		if e != syscall.EINTR {
			fail("poll", e)
		}
	}
}

func main() {
	src := open("src", []string{"nbdkit", "-s", "--exit-with-parent", "-r",
		"pattern", fmt.Sprintf("size=%d", size)})
	defer src.Close()
	dst := open("dst", []string{"nbdkit", "-s", "--exit-with-parent",
		"memory", fmt.Sprintf("size=%d", size)})
	defer dst.Close()

	total, err := src.GetSize()
	if err != nil {
		fail("GetSize", err)
	}
	soff := uint64(0)
	for {
		srcIn, _ := src.AioInFlight()
		dstIn, _ := dst.AioInFlight()
		if soff >= total && srcIn == 0 && dstIn == 0 && len(queued) == 0 {
			break
		}
		if soff < total && srcIn < inFlight {
			buf := libnbd.MakeAioBuffer(bs)
			offset := soff
			var optargs libnbd.AioPreadOptargs
			optargs.CompletionCallbackSet = true
			optargs.CompletionCallback = func(error *int) int {
				if *error != 0 {
					fail("read", syscall.Errno(*error))
				}
				bytesRead += uint64(buf.Size)
				queued = append(queued, write{buf, offset})
				return 1
			}
			if _, err := src.AioPread(buf, soff, &optargs); err != nil {
				fail("AioPread", err)
			}
			soff += bs
		}
		for _, w := range queued {
			w := w
			var optargs libnbd.AioPwriteOptargs
			optargs.CompletionCallbackSet = true
			optargs.CompletionCallback = func(error *int) int {
				if *error != 0 {
					fail("write", syscall.Errno(*error))
				}
				bytesWritten += uint64(w.buf.Size)
				w.buf.Free()
				return 1
			}
			if _, err := dst.AioPwrite(w.buf, w.offset, &optargs); err != nil {
				fail("AioPwrite", err)
			}
		}
		queued = queued[:0]

		sfd, sev := events(src)
		dfd, dev := events(dst)
		fds := []pollFd{{fd: int32(sfd), events: sev}, {fd: int32(dfd), events: dev}}
		poll(fds)
		for i, h := range []*libnbd.Libnbd{src, dst} {
			switch {
			case fds[i].revents&(0x1|0x8|0x10) != 0: // POLLIN, POLLERR, POLLHUP
				if err := h.AioNotifyRead(); err != nil {
					fail("AioNotifyRead", err)
				}
			case fds[i].revents&0x4 != 0:
				if err := h.AioNotifyWrite(); err != nil {
					fail("AioNotifyWrite", err)
				}
			}
		}
	}

	a := make([]byte, bs)
	b := make([]byte, bs)
	for off := uint64(0); off < total; off += bs {
		if err := src.Pread(a, off, nil); err != nil {
			fail("Pread src", err)
		}
		if err := dst.Pread(b, off, nil); err != nil {
			fail("Pread dst", err)
		}
		if !bytes.Equal(a, b) {
			fail("compare", fmt.Errorf("the copy differs at offset %d", off))
		}
	}
	fmt.Printf("copied %d bytes (read %d, wrote %d) and the exports are equal\n",
		total, bytesRead, bytesWritten)
}
