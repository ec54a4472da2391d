package libnbd

import (
	"os"
	"path/filepath"
	"testing"
)

func Test750TlsPsk(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.psk")
	must(t, "writing the key file", os.WriteFile(keys,
		[]byte("alice:8e0a3c2f4b7d91e6a5c08f1d2b3e4a5c8e0a3c2f4b7d91e6a5c08f1d2b3e4a5c\n"), 0600))
	sock := unixServer(t, "--tls=require", "--tls-psk="+keys, "memory", "size=1M")

	h := handle(t)
	must(t, "SetTls", h.SetTls(TLS_REQUIRE))
	must(t, "SetTlsPskFile", h.SetTlsPskFile(keys))
	must(t, "SetTlsUsername", h.SetTlsUsername("alice"))
	must(t, "ConnectUnix", h.ConnectUnix(sock))
	tls, err := h.GetTlsNegotiated()
	must(t, "GetTlsNegotiated", err)
	if !tls {
		t.Fatalf("TLS was not negotiated")
	}
	data := pattern(5, 4096)
	must(t, "Pwrite", h.Pwrite(data, 0, nil))
	got := make([]byte, 4096)
	must(t, "Pread", h.Pread(got, 0, nil))
	if string(got) != string(data) {
		t.Fatalf("read back different bytes over TLS")
	}

	wrong := filepath.Join(dir, "wrong.psk")
	must(t, "writing the wrong key file", os.WriteFile(wrong,
		[]byte("alice:0000000000000000000000000000000000000000000000000000000000000000\n"), 0600))
	b := handle(t)
	must(t, "SetTls", b.SetTls(TLS_REQUIRE))
	must(t, "SetTlsPskFile", b.SetTlsPskFile(wrong))
	must(t, "SetTlsUsername", b.SetTlsUsername("alice"))
	if err := b.ConnectUnix(sock); err == nil {
		t.Fatalf("a wrong key connected")
	}
}

// scenarios: 753

// nbds+unix:// turns TLS on, the key file and user named in the URI.
func Test753TlsUri(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.psk")
	must(t, "writing the key file", os.WriteFile(keys,
		[]byte("alice:8e0a3c2f4b7d91e6a5c08f1d2b3e4a5c8e0a3c2f4b7d91e6a5c08f1d2b3e4a5c\n"), 0600))
	sock := unixServer(t, "--tls=require", "--tls-psk="+keys, "memory", "size=1M")
	h := handle(t)
	must(t, "SetUriAllowLocalFile", h.SetUriAllowLocalFile(true))
	must(t, "ConnectUri", h.ConnectUri("nbds+unix://alice@/?socket="+sock+"&tls-psk-file="+keys))
	tls, err := h.GetTlsNegotiated()
	must(t, "GetTlsNegotiated", err)
	if !tls {
		t.Fatalf("nbds+unix:// did not negotiate TLS")
	}
}
