package libnbd

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// scenarios: 704 705

// Shutdown with SHUTDOWN_ABANDON_PENDING: commands still queued (not
// sent) fail with ENOTCONN. The library sends a request issued while
// another is in flight at the next poll, so of four reads on a slow
// server the three behind the first were never sent.
func Test701AbandonPending(t *testing.T) {
	h := connectedHandle(t, "--filter=delay", "pattern", "size=1M", "rdelay=200ms")
	cookies := make([]uint64, 4)
	for i := range cookies {
		buf := MakeAioBuffer(512)
		defer buf.Free()
		var err error
		cookies[i], err = h.AioPread(buf, uint64(i*512), nil)
		mustOK(t, "AioPread", err)
	}
	var o ShutdownOptargs
	o.FlagsSet = true
	o.Flags = SHUTDOWN_ABANDON_PENDING
	mustOK(t, "Shutdown", h.Shutdown(&o))
	closed, err := h.AioIsClosed()
	mustOK(t, "AioIsClosed", err)
	if !closed {
		t.Fatalf("not closed after Shutdown")
	}
	// The sent one was answered (or saw the disconnect first).
	done, err := h.AioCommandCompleted(cookies[0])
	if err == nil && !done {
		t.Fatalf("the sent read is still pending")
	}
	for _, c := range cookies[1:] {
		_, err := h.AioCommandCompleted(c)
		expectErrno(t, "an abandoned read", err, syscall.ENOTCONN)
	}
}

// Closing the handle, or KillSubprocess, ends the server it started.
func Test704KillSubprocess(t *testing.T) {
	for _, kill := range []bool{true, false} {
		h, err := Create()
		mustOK(t, "Create", err)
		mustOK(t, "ConnectCommand", h.ConnectCommand([]string{"nbdkit", "-s", "null", "size=1M"}))
		pid, err := h.GetSubprocessPid()
		mustOK(t, "GetSubprocessPid", err)
		if kill {
			mustOK(t, "KillSubprocess", h.KillSubprocess(0))
		}
		h.Close()
		deadline := time.Now().Add(10 * time.Second)
		for {
			p, _ := os.FindProcess(int(pid))
			if p.Signal(syscall.Signal(0)) != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server (pid %d) outlived the handle (kill %v)", pid, kill)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// The server dies with a command in flight: the command fails, the handle
// is dead, and later calls fail at once.
func Test705ServerDeath(t *testing.T) {
	sock, server := startUnixServerProcess(t, "--filter=delay", "memory", "size=1M", "delay-read=2")
	h := newTestHandle(t)
	mustOK(t, "ConnectUnix", h.ConnectUnix(sock))
	buf := MakeAioBuffer(512)
	defer buf.Free()
	cookie, err := h.AioPread(buf, 0, nil)
	mustOK(t, "AioPread", err)
	mustOK(t, "killing the server", server.Process.Kill())
	for {
		done, err := h.AioCommandCompleted(cookie)
		if err != nil {
			break
		}
		if done {
			t.Fatalf("a read the dead server never answered succeeded")
		}
		if _, err := h.Poll(1000); err != nil {
			break
		}
	}
	dead, err := h.AioIsDead()
	mustOK(t, "AioIsDead", err)
	closed, err := h.AioIsClosed()
	mustOK(t, "AioIsClosed", err)
	if !dead && !closed {
		t.Fatalf("the handle is neither dead nor closed")
	}
	start := time.Now()
	if err := h.Pread(make([]byte, 512), 0, nil); err == nil {
		t.Fatalf("a read after the server died succeeded")
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("a call after the server died hung")
	}
}
