// Package libnbd is an NBD (Network Block Device) client: the Go package
// of libnbd's API, over this project's memory-safe library
// (libnbd.so.0, written in Rust) through cgo.
//
// Programs written for libnbd's own Go binding build and run unchanged:
// the module path, the names, the types and the behaviour are libnbd's.
// Create a handle with [Create], connect it, issue commands, and close it:
//
//	h, err := libnbd.Create()
//	if err != nil {
//		panic(err)
//	}
//	defer h.Close()
//	if err := h.ConnectUri("nbd+unix:///?socket=/tmp/nbd.sock"); err != nil {
//		panic(err)
//	}
//	size, err := h.GetSize()
//
// Every method but Close returns an error, a *[LibnbdError] carrying the
// call's name, the library's message and the errno. Methods take their
// optional arguments in an XxxOptargs struct (nil for none), whose fields
// are used only when the matching XxxSet field is true. Closures are Go
// funcs; the library holds on to one for as long as it may call it (a
// completion callback until the command retires) and releases it exactly
// once; a panic inside one fails its command and is raised again by the
// method during which the callback ran. Buffers of asynchronous commands are [AioBuffer]s, in C memory,
// which must stay allocated until the command completes.
//
// Build against the library with pkg-config: set PKG_CONFIG_PATH to the
// directory of its libnbd.pc (`cargo xtask install --prefix DIR` writes
// DIR/lib/pkgconfig/libnbd.pc).
package libnbd

/*
#cgo pkg-config: libnbd
#cgo CFLAGS: -D_GNU_SOURCE=1

#include <stdlib.h>

#include "libnbd.h"
#include "wrappers.h"

static struct nbd_handle *
go_nbd_create (struct go_nbd_error *err)
{
  struct nbd_handle *h = nbd_create ();
  if (h == NULL)
    go_nbd_save_error (err);
  return h;
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"unsafe"
)

// Libnbd is a handle: one NBD connection and its settings. Its methods
// may be called from several goroutines at once (the library serialises
// them); Close must not race with them.
type Libnbd struct {
	h      *C.struct_nbd_handle
	panics *panicSlot
}

// String describes the handle (for debugging).
func (h *Libnbd) String() string {
	return "&Libnbd{}"
}

// LibnbdError is the error every method returns: the call (without
// nbd_), the library's message (nbd_get_error) and the errno
// (nbd_get_errno, 0 when there is none).
type LibnbdError struct {
	Op     string
	Errmsg string
	Errno  syscall.Errno
}

// String is the error's text: the call, the message and, if the message
// does not already say it, the errno's text.
func (e *LibnbdError) String() string {
	if e.Errno != 0 && !strings.Contains(e.Errmsg, e.Errno.Error()) {
		return fmt.Sprintf("%s: %s: %s", e.Op, e.Errmsg, e.Errno.Error())
	}
	return fmt.Sprintf("%s: %s", e.Op, e.Errmsg)
}

// Error makes *LibnbdError an error.
func (e *LibnbdError) Error() string {
	return e.String()
}

// Unwrap gives the errno, so that errors.Is(err, syscall.ENOTCONN) works.
func (e *LibnbdError) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// savedError turns what a C wrapper saved into the error, freeing it.
func savedError(op string, e *C.struct_go_nbd_error) *LibnbdError {
	msg := "unknown error"
	if e.msg != nil {
		msg = C.GoString(e.msg)
		C.free(unsafe.Pointer(e.msg))
		e.msg = nil
	}
	return &LibnbdError{Op: op, Errmsg: msg, Errno: syscall.Errno(e.errnum)}
}

func closedHandleError(op string) *LibnbdError {
	return &LibnbdError{Op: op, Errmsg: "handle is closed", Errno: syscall.Errno(0)}
}

func argError(op, arg, why string) *LibnbdError {
	return &LibnbdError{
		Op:     op,
		Errmsg: fmt.Sprintf("nbd_%s: %s: %s", op, arg, why),
		Errno:  syscall.EINVAL,
	}
}

func nilCallbackError(op, arg string) *LibnbdError {
	return argError(op, arg, "the callback is nil")
}

// Create makes a new handle, not connected. A finalizer closes it if the
// program does not.
func Create() (*Libnbd, error) {
	var cErr C.struct_go_nbd_error
	c := C.go_nbd_create(&cErr)
	if c == nil {
		return nil, savedError("create", &cErr)
	}
	h := &Libnbd{h: c, panics: &panicSlot{}}
	runtime.SetFinalizer(h, (*Libnbd).Close)
	return h, nil
}

// Close closes the handle: the connection, if any, is dropped (use
// Shutdown first for a clean disconnect), commands in flight fail, and
// every closure the library holds is released. Closing twice is an
// error.
func (h *Libnbd) Close() *LibnbdError {
	if h.h == nil {
		return closedHandleError("close")
	}
	C.nbd_close(h.h)
	h.h = nil
	return nil
}

// cString is s as a C string for argument arg of op, which the caller
// frees; a string with a NUL byte cannot be one.
func cString(op, arg, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, argError(op, arg, "the string contains a NUL byte")
	}
	return C.CString(s), nil
}

// cStringList is xs as a NULL-terminated C array of C strings, all in C
// memory; free it with freeStringList.
func cStringList(op, arg string, xs []string) (**C.char, error) {
	for _, x := range xs {
		if strings.IndexByte(x, 0) >= 0 {
			return nil, argError(op, arg, "a string contains a NUL byte")
		}
	}
	size := C.size_t(unsafe.Sizeof((*C.char)(nil)))
	argv := (**C.char)(C.calloc(C.size_t(len(xs)+1), size))
	if argv == nil {
		panic("libnbd: out of memory")
	}
	slots := unsafe.Slice(argv, len(xs)+1)
	for i, x := range xs {
		slots[i] = C.CString(x)
	}
	return argv, nil
}

func freeStringList(argv **C.char) {
	for p := argv; *p != nil; p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(*p))) {
		C.free(unsafe.Pointer(*p))
	}
	C.free(unsafe.Pointer(argv))
}

// zeroLength stands for the buffer of an empty slice: the library never
// accepts a NULL buffer, even of length 0.
var zeroLength [1]byte

// bytesArg is a Go slice as a C buffer for the length of one call.
func bytesArg(b []byte) (unsafe.Pointer, C.size_t) {
	if len(b) == 0 {
		return unsafe.Pointer(&zeroLength[0]), 0
	}
	return unsafe.Pointer(&b[0]), C.size_t(len(b))
}

// aioBufferArg is an AioBuffer's C memory, which must not have been freed.
func aioBufferArg(op, arg string, b AioBuffer) (unsafe.Pointer, C.size_t, error) {
	if b.P == nil {
		return nil, 0, argError(op, arg, "the AioBuffer was freed (or never made)")
	}
	return b.P, C.size_t(b.Size), nil
}

// goString is a returned C string as a Go one, freeing it if the caller
// owns it.
func goString(s *C.char, owned bool) *string {
	r := C.GoString(s)
	if owned {
		C.free(unsafe.Pointer(s))
	}
	return &r
}
