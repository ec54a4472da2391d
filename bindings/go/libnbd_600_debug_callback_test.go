package libnbd

import (
	"strings"
	"sync/atomic"
	"testing"
)

// scenarios: 630

func Test600DebugCallback(t *testing.T) {
	before := atomic.LoadInt64(&liveCallbacks)
	h, err := Create()
	mustOK(t, "Create", err)
	var msgs []string
	mustOK(t, "SetDebug", h.SetDebug(true))
	mustOK(t, "SetDebugCallback", h.SetDebugCallback(func(context string, msg string) int {
		msgs = append(msgs, context+": "+msg)
		return 0
	}))
	mustOK(t, "ConnectCommand", h.ConnectCommand(nbdkitArgv("null", "size=1M")))
	if len(msgs) == 0 {
		t.Fatalf("no debug messages while connecting")
	}
	named := false
	for _, m := range msgs {
		named = named || strings.HasPrefix(m, "nbd_connect_command")
	}
	if !named {
		t.Fatalf("no message names nbd_connect_command: %v", msgs[:1])
	}
	mustOK(t, "ClearDebugCallback", h.ClearDebugCallback())
	n := len(msgs)
	_, err = h.GetSize()
	mustOK(t, "GetSize", err)
	mustOK(t, "Flush", h.Flush(nil))
	if len(msgs) != n {
		t.Fatalf("messages after ClearDebugCallback")
	}

	// Every callback handed to the library is released exactly once: on
	// success, on a refused call, when replaced, and at close.
	mustOK(t, "SetDebugCallback", h.SetDebugCallback(func(string, string) int { return 0 }))
	mustOK(t, "SetDebugCallback", h.SetDebugCallback(func(string, string) int { return 0 }))
	buf := MakeAioBuffer(512)
	defer buf.Free()
	var o AioPreadOptargs
	o.CompletionCallbackSet = true
	o.CompletionCallback = func(*int) int { return 1 }
	_, err = h.AioPread(buf, 1<<40, &o) // out of bounds: refused
	if err == nil {
		t.Fatalf("an out-of-bounds read was accepted")
	}
	_, err = h.AioPread(buf, 0, &o)
	mustOK(t, "AioPread", err)
	if atomic.LoadInt64(&liveCallbacks) == before {
		t.Fatalf("no callback held while one is set")
	}
	h.Close()
	if n := atomic.LoadInt64(&liveCallbacks); n != before {
		t.Fatalf("%d callbacks not released after Close", n-before)
	}
}
