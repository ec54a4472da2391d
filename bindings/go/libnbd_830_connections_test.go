package libnbd

import (
	"bytes"
	"testing"
)

// Several connections in one handle (an extension of this library):
// opened when the server advertises multi-conn, commands spread over
// them.
func Test830Connections(t *testing.T) {
	sock := startUnixServer(t, "memory", "size=8M")
	h := newTestHandle(t)
	mustOK(t, "SetConnections", h.SetConnections(4))
	mustOK(t, "ConnectUnix", h.ConnectUnix(sock))
	n, err := h.GetConnections()
	mustOK(t, "GetConnections", err)
	if n != 4 {
		t.Fatalf("%d connections", n)
	}
	const bs = 65536
	bufs := make([]AioBuffer, 32)
	cookies := make([]uint64, 32)
	for i := range bufs {
		bufs[i] = FromBytes(blockPattern(i, bs))
		defer bufs[i].Free()
		cookies[i], err = h.AioPwrite(bufs[i], uint64(i*bs), nil)
		mustOK(t, "AioPwrite", err)
	}
	for _, c := range cookies {
		for {
			done, err := h.AioCommandCompleted(c)
			mustOK(t, "AioCommandCompleted", err)
			if done {
				break
			}
			_, err = h.Poll(5000)
			mustOK(t, "Poll", err)
		}
	}
	mustOK(t, "Flush", h.Flush(nil))
	got := make([]byte, bs)
	for i := range bufs {
		mustOK(t, "Pread", h.Pread(got, uint64(i*bs), nil))
		if !bytes.Equal(got, blockPattern(i, bs)) {
			t.Fatalf("block %d differs", i)
		}
	}
	one := newTestHandle(t)
	mustOK(t, "SetConnections", one.SetConnections(4))
	mustOK(t, "ConnectCommand", one.ConnectCommand(nbdkitArgv("memory", "size=1M")))
	n, err = one.GetConnections()
	mustOK(t, "GetConnections", err)
	if n != 1 {
		t.Fatalf("a subprocess server got %d connections", n)
	}
}
