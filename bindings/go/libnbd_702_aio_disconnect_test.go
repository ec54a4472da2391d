package libnbd

import (
	"testing"
	"time"
)

// scenarios: 720 751 800 871

func Test702AioDisconnect(t *testing.T) {
	h := connectedHandle(t, "null", "size=1M")
	mustOK(t, "AioDisconnect", h.AioDisconnect(nil))
	for {
		closed, err := h.AioIsClosed()
		mustOK(t, "AioIsClosed", err)
		if closed {
			break
		}
		dead, err := h.AioIsDead()
		mustOK(t, "AioIsDead", err)
		if dead {
			t.Fatalf("dead instead of closed after AioDisconnect")
		}
		_, err = h.Poll(1000)
		mustOK(t, "Poll", err)
	}
}

func Test720Uris(t *testing.T) {
	h := newTestHandle(t)
	yes, err := h.IsUri("nbd://example.com/")
	mustOK(t, "IsUri", err)
	no, err := h.IsUri("not a uri")
	mustOK(t, "IsUri", err)
	if !yes || no {
		t.Fatalf("IsUri: %v, %v", yes, no)
	}
	if err := h.ConnectUri("nbd://[bad"); err == nil {
		t.Fatalf("a malformed URI was accepted")
	}
	sock := startUnixServer(t, "null")
	mustOK(t, "SetUriAllowTransports", h.SetUriAllowTransports(ALLOW_TRANSPORT_TCP))
	if err := h.ConnectUri("nbd+unix:///?socket=" + sock); err == nil {
		t.Fatalf("a forbidden transport was used")
	}
}

func Test751TlsRequireRefusesPlaintext(t *testing.T) {
	h := newTestHandle(t)
	mustOK(t, "SetTls", h.SetTls(TLS_REQUIRE))
	if err := h.ConnectCommand(nbdkitArgv("null")); err == nil {
		t.Fatalf("TLS_REQUIRE connected to a plaintext server")
	}
	a := newTestHandle(t)
	mustOK(t, "SetTls", a.SetTls(TLS_ALLOW))
	mustOK(t, "ConnectCommand", a.ConnectCommand(nbdkitArgv("null")))
	tls, err := a.GetTlsNegotiated()
	mustOK(t, "GetTlsNegotiated", err)
	if tls {
		t.Fatalf("TLS negotiated with a plaintext server")
	}
}

// Other goroutines run while a call waits on the server.
func Test800OthersRunWhileWaiting(t *testing.T) {
	h := connectedHandle(t, "--filter=delay", "memory", "size=1M", "delay-read=1")
	ticks := make(chan int)
	go func() {
		n := 0
		deadline := time.Now().Add(800 * time.Millisecond)
		for time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			n++
		}
		ticks <- n
	}()
	mustOK(t, "Pread", h.Pread(make([]byte, 512), 0, nil))
	if n := <-ticks; n < 20 {
		t.Fatalf("another goroutine ran only %d times during the read", n)
	}
}

// A request timeout (an extension of this library) fails the command
// that overran.
func Test871RequestTimeout(t *testing.T) {
	h := connectedHandle(t, "--filter=delay", "memory", "size=1M", "delay-read=3")
	mustOK(t, "SetRequestTimeout", h.SetRequestTimeout(300))
	ms, err := h.GetRequestTimeout()
	mustOK(t, "GetRequestTimeout", err)
	if ms != 300 {
		t.Fatalf("request timeout %d", ms)
	}
	start := time.Now()
	err = h.Pread(make([]byte, 512), 0, nil)
	if err == nil {
		t.Fatalf("a read the server answers after 3 s met a 300 ms deadline")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the read failed only after %s", took)
	}
}
