package libnbd

/*
#include <stdlib.h>
*/
import "C"

import "unsafe"

// AioBuffer is a buffer in C memory for the asynchronous commands
// (AioPread, AioPwrite, ...): the library reads into it or writes from it
// after the call that queued the command has returned, so it must stay
// allocated, and untouched, until the command completes. Free it then.
type AioBuffer struct {
	P    unsafe.Pointer
	Size uint
}

// MakeAioBuffer allocates a buffer of size bytes, not initialised.
func MakeAioBuffer(size uint) AioBuffer {
	return AioBuffer{P: alloc(size, false), Size: size}
}

// MakeAioBufferZero allocates a buffer of size bytes, all zero.
func MakeAioBufferZero(size uint) AioBuffer {
	return AioBuffer{P: alloc(size, true), Size: size}
}

// FromBytes allocates a buffer holding a copy of buf.
func FromBytes(buf []byte) AioBuffer {
	b := MakeAioBuffer(uint(len(buf)))
	copy(b.Slice(), buf)
	return b
}

func alloc(size uint, zero bool) unsafe.Pointer {
	n := C.size_t(size)
	if n == 0 {
		// A distinct, freeable pointer even for an empty buffer.
		n = 1
	}
	var p unsafe.Pointer
	if zero {
		p = C.calloc(1, n)
	} else {
		p = C.malloc(n)
	}
	if p == nil {
		panic("libnbd: out of memory allocating an AioBuffer")
	}
	return p
}

// Free releases the C memory. Freeing again does nothing; using the
// buffer after Free panics.
func (b *AioBuffer) Free() {
	if b.P != nil {
		C.free(b.P)
		b.P = nil
	}
}

func (b *AioBuffer) check(what string) {
	if b.P == nil {
		panic("libnbd: AioBuffer." + what + " after Free")
	}
}

// Bytes is a copy of the buffer's contents in Go memory.
func (b *AioBuffer) Bytes() []byte {
	b.check("Bytes")
	out := make([]byte, b.Size)
	copy(out, unsafe.Slice((*byte)(b.P), int(b.Size)))
	return out
}

// Slice is a Go slice over the buffer's C memory (no copy): writing to it
// writes the buffer. It must not be used after Free.
func (b *AioBuffer) Slice() []byte {
	b.check("Slice")
	return unsafe.Slice((*byte)(b.P), int(b.Size))
}

// Get is a pointer to byte i of the buffer. It must not be used after
// Free.
func (b *AioBuffer) Get(i uint) *byte {
	b.check("Get")
	if i >= b.Size {
		panic("libnbd: AioBuffer.Get: index out of range")
	}
	return (*byte)(unsafe.Add(b.P, i))
}
