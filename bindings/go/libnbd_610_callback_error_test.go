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

// A callback that panics: its C callback returns -1 (a chunk callback's
// command fails), the method during which it ran panics with the same
// value, and the handle keeps working.
func Test610CallbackPanic(t *testing.T) {
	h := connectedHandle(t, "pattern", "size=1M")
	buf := make([]byte, 512)
	var raised interface{}
	var err error
	func() {
		defer func() { raised = recover() }()
		err = h.PreadStructured(buf, 0, func([]byte, uint64, uint, *int) int {
			panic("boom")
		}, nil)
	}()
	if raised != "boom" {
		t.Fatalf("PreadStructured raised %v (err %v)", raised, err)
	}

	// In a completion callback, raised by the Poll that ran it.
	r := MakeAioBuffer(512)
	defer r.Free()
	var o AioPreadOptargs
	o.CompletionCallbackSet = true
	o.CompletionCallback = func(error *int) int {
		panic("bang")
	}
	_, err = h.AioPread(r, 0, &o)
	mustOK(t, "AioPread", err)
	raised = nil
	for raised == nil {
		func() {
			defer func() { raised = recover() }()
			_, err := h.Poll(1000)
			mustOK(t, "Poll", err)
		}()
	}
	if raised != "bang" {
		t.Fatalf("Poll raised %v", raised)
	}
	mustOK(t, "Pread after the panics", h.Pread(buf, 0, nil))

	// A chunk callback's panic fails its command.
	cookie, err := h.AioPreadStructured(r, 0, func([]byte, uint64, uint, *int) int {
		panic("again")
	}, nil)
	mustOK(t, "AioPreadStructured", err)
	failed := false
	for !failed {
		func() {
			defer func() { recover() }()
			done, err := h.AioCommandCompleted(cookie)
			if err != nil {
				failed = true
				return
			}
			if done {
				t.Fatalf("a command whose chunk callback panicked succeeded")
			}
			h.Poll(1000)
		}()
	}
}
