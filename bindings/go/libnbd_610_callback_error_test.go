package libnbd

import (
	"syscall"
	"testing"
)

func Test610CallbackError(t *testing.T) {
	h := connectedHandle(t, "pattern", "size=1M")
	buf := make([]byte, 4096)
	err := h.PreadStructured(buf, 0, func(sub []byte, offset uint64, status uint, error *int) int {
		*error = int(syscall.ENOMEM)
		return -1
	}, nil)
	expectErrno(t, "a chunk callback returning -1", err, syscall.ENOMEM)
	// The handle keeps working.
	mustOK(t, "Pread", h.Pread(buf, 0, nil))

	r := MakeAioBuffer(4096)
	defer r.Free()
	var o AioPreadStructuredOptargs
	o.CompletionCallbackSet = true
	o.CompletionCallback = func(error *int) int {
		return 0 // leave it for AioCommandCompleted
	}
	cookie, err := h.AioPreadStructured(r, 0, func(sub []byte, offset uint64, status uint, error *int) int {
		return -1
	}, &o)
	mustOK(t, "AioPreadStructured", err)
	for {
		done, err := h.AioCommandCompleted(cookie)
		if err != nil {
			expectErrno(t, "AioCommandCompleted", err, syscall.EPROTO)
			break
		}
		if done {
			t.Fatalf("a command whose chunk callback failed succeeded")
		}
		_, err = h.Poll(1000)
		mustOK(t, "Poll", err)
	}
}
