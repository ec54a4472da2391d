package libnbd

import "testing"

// Connecting asynchronously: AioConnect (a Unix socket address given as a
// string, which libnbd's own Go package cannot take) and AioConnectUri,
// completed by Poll.
func Test206AioConnect(t *testing.T) {
	sock := unixServer(t, "memory", "size=1M")
	for _, how := range []string{"addr", "uri"} {
		h := handle(t)
		if how == "addr" {
			must(t, "AioConnect", h.AioConnect("unix:"+sock))
		} else {
			must(t, "AioConnectUri", h.AioConnectUri("nbd+unix:///?socket="+sock))
		}
		for {
			connecting, err := h.AioIsConnecting()
			must(t, "AioIsConnecting", err)
			if !connecting {
				break
			}
			_, err = h.Poll(1000)
			must(t, "Poll", err)
		}
		ready, err := h.AioIsReady()
		must(t, "AioIsReady", err)
		size, err := h.GetSize()
		must(t, "GetSize", err)
		if !ready || size != 1<<20 {
			t.Fatalf("%s: ready %v, size %d", how, ready, size)
		}
	}
	h := handle(t)
	if err := h.AioConnect("no-such-form"); err == nil {
		t.Fatalf("AioConnect accepted a malformed address")
	}
}
