package libnbd

/*
#include <stdint.h>

#include "libnbd.h"
*/
import "C"

import (
	"runtime/cgo"
	"sync"
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

// callbackBox is what a callback's user_data names: the Go func, and
// where a panic inside it is kept for its handle's method to raise.
type callbackBox struct {
	f      interface{}
	panics *panicSlot
}

// newCallback hands a Go func to C: the id in a callback's user_data.
func newCallback(panics *panicSlot, f interface{}) C.uintptr_t {
	atomic.AddInt64(&liveCallbacks, 1)
	return C.uintptr_t(cgo.NewHandle(&callbackBox{f: f, panics: panics}))
}

func callbackOf(id C.uintptr_t) *callbackBox {
	return cgo.Handle(id).Value().(*callbackBox)
}

// catch, deferred in every callback: a panic must not unwind through the
// library's C frames (Go would abort the program). The C callback
// returns -1 instead, which fails its command, and the method of the
// handle during which the callback ran panics with the value once the
// library has returned.
func (b *callbackBox) catch(ret *C.int) {
	if r := recover(); r != nil {
		*ret = -1
		b.panics.note(r)
	}
}

// panicSlot holds a callback's panic until the handle's method raises it.
// (It is not the handle itself, which a registered callback would then
// keep from being collected.)
type panicSlot struct {
	pending int32
	mu      sync.Mutex
	value   interface{}
}

func (p *panicSlot) note(v interface{}) {
	p.mu.Lock()
	if p.value == nil {
		p.value = v
	}
	atomic.StoreInt32(&p.pending, 1)
	p.mu.Unlock()
}

// rethrow panics with the value a callback panicked with, if one did.
func (p *panicSlot) rethrow() {
	if atomic.LoadInt32(&p.pending) == 0 {
		return
	}
	p.mu.Lock()
	v := p.value
	p.value = nil
	atomic.StoreInt32(&p.pending, 0)
	p.mu.Unlock()
	if v != nil {
		panic(v)
	}
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
