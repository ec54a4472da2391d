package libnbd

import "testing"

// Connecting asynchronously: AioConnect (a Unix socket address given as a
// string, which libnbd's own Go package cannot take) and AioConnectUri,
// completed by Poll.
func Test206AioConnect(t *testing.T) {
	sock := startUnixServer(t, "memory", "size=1M")
	for _, how := range []string{"addr", "uri"} {
		h := newTestHandle(t)
		if how == "addr" {
			mustOK(t, "AioConnect", h.AioConnect("unix:"+sock))
		} else {
			mustOK(t, "AioConnectUri", h.AioConnectUri("nbd+unix:///?socket="+sock))
		}
		for {
			connecting, err := h.AioIsConnecting()
			mustOK(t, "AioIsConnecting", err)
			if !connecting {
				break
			}
			_, err = h.Poll(1000)
			mustOK(t, "Poll", err)
		}
		ready, err := h.AioIsReady()
		mustOK(t, "AioIsReady", err)
		size, err := h.GetSize()
		mustOK(t, "GetSize", err)
		if !ready || size != 1<<20 {
			t.Fatalf("%s: ready %v, size %d", how, ready, size)
		}
	}
	h := newTestHandle(t)
	if err := h.AioConnect("no-such-form"); err == nil {
		t.Fatalf("AioConnect accepted a malformed address")
	}
}
