package libnbd

import (
	"os"
	"path/filepath"
	"testing"
)

// pskFile writes a key file in dir with alice's key, as psktool does.
func pskFile(t *testing.T, dir, name, key string) string {
	path := filepath.Join(dir, name)
	mustOK(t, "writing "+name, os.WriteFile(path, []byte("alice:"+key+"\n"), 0600))
	return path
}

func Test750TlsPsk(t *testing.T) {
	dir := t.TempDir()
	keys := pskFile(t, dir, "keys.psk", "8e0a3c2f4b7d91e6a5c08f1d2b3e4a5c8e0a3c2f4b7d91e6a5c08f1d2b3e4a5c")
	sock := startUnixServer(t, "--tls=require", "--tls-psk="+keys, "memory", "size=1M")

	h := newTestHandle(t)
	mustOK(t, "SetTls", h.SetTls(TLS_REQUIRE))
	mustOK(t, "SetTlsPskFile", h.SetTlsPskFile(keys))
	mustOK(t, "SetTlsUsername", h.SetTlsUsername("alice"))
	mustOK(t, "ConnectUnix", h.ConnectUnix(sock))
	tls, err := h.GetTlsNegotiated()
	mustOK(t, "GetTlsNegotiated", err)
	if !tls {
		t.Fatalf("TLS was not negotiated")
	}
	data := blockPattern(5, 4096)
	mustOK(t, "Pwrite", h.Pwrite(data, 0, nil))
	got := make([]byte, 4096)
	mustOK(t, "Pread", h.Pread(got, 0, nil))
	if string(got) != string(data) {
		t.Fatalf("read back different bytes over TLS")
	}

	wrong := pskFile(t, dir, "wrong.psk", "0000000000000000000000000000000000000000000000000000000000000000")
	b := newTestHandle(t)
	mustOK(t, "SetTls", b.SetTls(TLS_REQUIRE))
	mustOK(t, "SetTlsPskFile", b.SetTlsPskFile(wrong))
	mustOK(t, "SetTlsUsername", b.SetTlsUsername("alice"))
	if err := b.ConnectUnix(sock); err == nil {
		t.Fatalf("a wrong key connected")
	}
}

// scenarios: 753

// nbds+unix:// turns TLS on, the key file and user named in the URI.
func Test753TlsUri(t *testing.T) {
	dir := t.TempDir()
	keys := pskFile(t, dir, "keys.psk", "8e0a3c2f4b7d91e6a5c08f1d2b3e4a5c8e0a3c2f4b7d91e6a5c08f1d2b3e4a5c")
	sock := startUnixServer(t, "--tls=require", "--tls-psk="+keys, "memory", "size=1M")
	h := newTestHandle(t)
	mustOK(t, "SetUriAllowLocalFile", h.SetUriAllowLocalFile(true))
	mustOK(t, "ConnectUri", h.ConnectUri("nbds+unix://alice@/?socket="+sock+"&tls-psk-file="+keys))
	tls, err := h.GetTlsNegotiated()
	mustOK(t, "GetTlsNegotiated", err)
	if !tls {
		t.Fatalf("nbds+unix:// did not negotiate TLS")
	}
}
