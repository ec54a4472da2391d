package libnbd

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// scenarios: 205 208

func Test202ConnectTcp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	mustOK(t, "finding a free port", err)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command("nbdkit", "-f", "-i", "127.0.0.1", "-p", port, "memory", "size=3M")
	mustOK(t, "starting nbdkit", cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	var h *Libnbd
	for i := 0; ; i++ {
		h = newTestHandle(t)
		err := h.ConnectTcp("127.0.0.1", port)
		if err == nil {
			break
		}
		if i == 200 {
			t.Fatalf("ConnectTcp: %s", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	size, err := h.GetSize()
	mustOK(t, "GetSize", err)
	if size != 3<<20 {
		t.Fatalf("size %d", size)
	}
	u := newTestHandle(t)
	mustOK(t, "ConnectUri", u.ConnectUri("nbd://127.0.0.1:"+port+"/"))
	size, err = u.GetSize()
	mustOK(t, "GetSize", err)
	if size != 3<<20 {
		t.Fatalf("size %d through nbd://", size)
	}
}

// The library makes the listening socket and starts the server with
// LISTEN_FDS.
func Test205SocketActivation(t *testing.T) {
	h := newTestHandle(t)
	mustOK(t, "ConnectSystemdSocketActivation",
		h.ConnectSystemdSocketActivation([]string{"nbdkit", "--exit-with-parent", "null", "size=8K"}))
	size, err := h.GetSize()
	mustOK(t, "GetSize", err)
	if size != 8192 {
		t.Fatalf("size %d", size)
	}
}

// A server other than nbdkit: qemu-nbd serving a raw file.
func Test208OtherServers(t *testing.T) {
	dir := t.TempDir()
	image := filepath.Join(dir, "disk.raw")
	f, err := os.Create(image)
	mustOK(t, "creating the image", err)
	mustOK(t, "sizing the image", f.Truncate(4<<20))
	_, err = f.WriteAt(blockPattern(4, 1<<20), 1<<20)
	mustOK(t, "writing the image", err)
	f.Close()

	sock := filepath.Join(dir, "qemu.sock")
	startListening(t, sock, []string{"qemu-nbd", "-f", "raw", "-k", sock, "-t", image})
	h := newTestHandle(t)
	mustOK(t, "AddMetaContext", h.AddMetaContext(CONTEXT_BASE_ALLOCATION))
	mustOK(t, "ConnectUnix", h.ConnectUnix(sock))
	size, err := h.GetSize()
	mustOK(t, "GetSize", err)
	if size != 4<<20 {
		t.Fatalf("qemu-nbd: size %d", size)
	}
	buf := make([]byte, 4096)
	mustOK(t, "Pread", h.Pread(buf, 1<<20, nil))
	if string(buf) != string(blockPattern(4, 1<<20)[:4096]) {
		t.Fatalf("qemu-nbd: the file's data differs")
	}
	var flagsAt0 uint32 = 99
	mustOK(t, "BlockStatus", h.BlockStatus(4<<20, 0, func(ctx string, off uint64, e []uint32, error *int) int {
		if ctx == CONTEXT_BASE_ALLOCATION && len(e) >= 2 {
			flagsAt0 = e[1]
		}
		return 0
	}, nil))
	if flagsAt0&STATE_HOLE == 0 {
		t.Fatalf("qemu-nbd: the sparse start is not a hole (flags %d)", flagsAt0)
	}
	mustOK(t, "Shutdown", h.Shutdown(nil))
}
