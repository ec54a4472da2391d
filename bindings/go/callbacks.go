package libnbd

/*
#include <stdint.h>

#include "libnbd.h"
*/
import "C"

import (
	"runtime/cgo"
	"sync/atomic"
	"unsafe"
)

// LibnbdExtent is one extent of a 64-bit block status reply: its length
// and its flags (the meaning of the flags depends on the meta context).
type LibnbdExtent struct {
	Length uint64
	Flags  uint64
}

// liveCallbacks counts the Go funcs the library holds (the tests check
// that each is released exactly once).
var liveCallbacks int64

// newCallback hands a Go func to C: the id in a callback's user_data.
func newCallback(f interface{}) C.uintptr_t {
	atomic.AddInt64(&liveCallbacks, 1)
	return C.uintptr_t(cgo.NewHandle(f))
}

// goNbdFreeCallback is every callback's .free: the library is done with
// the Go func, which may now be collected.
//
//export goNbdFreeCallback
func goNbdFreeCallback(id C.uintptr_t) {
	cgo.Handle(id).Delete()
	atomic.AddInt64(&liveCallbacks, -1)
}

// copyBytes is a Go copy of n bytes at p (the library's buffer lives only
// for the duration of the callback).
func copyBytes(p unsafe.Pointer, n C.size_t) []byte {
	out := make([]byte, int(n))
	if n > 0 {
		copy(out, unsafe.Slice((*byte)(p), int(n)))
	}
	return out
}

func copyUint32s(p *C.uint32_t, n C.size_t) []uint32 {
	out := make([]uint32, int(n))
	if n > 0 {
		for i, v := range unsafe.Slice(p, int(n)) {
			out[i] = uint32(v)
		}
	}
	return out
}

func copyExtents(p *C.nbd_extent, n C.size_t) []LibnbdExtent {
	out := make([]LibnbdExtent, int(n))
	if n > 0 {
		for i, e := range unsafe.Slice(p, int(n)) {
			out[i] = LibnbdExtent{Length: uint64(e.length), Flags: uint64(e.flags)}
		}
	}
	return out
}
