package libnbd

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TLS with X.509 certificates (made by tests/c/make-x509.sh with
// certtool): a verified server and client work; a certificate that does
// not name the host, and a server whose CA the client does not trust,
// are refused.
func Test752TlsX509(t *testing.T) {
	makeX509 := func(dir string) string {
		out, err := exec.Command("sh", repositoryFile("tests/c/make-x509.sh"), dir).CombinedOutput()
		if err != nil {
			t.Fatalf("make-x509.sh: %s: %s", err, out)
		}
		return dir
	}
	certs := makeX509(filepath.Join(t.TempDir(), "x509"))
	sock := startUnixServer(t, "--tls=require", "--tls-certificates="+filepath.Join(certs, "server"),
		"--tls-verify-peer", "memory", "size=1M")
	handleFor := func(clientDir, hostname string) *Libnbd {
		h := newTestHandle(t)
		mustOK(t, "SetTls", h.SetTls(TLS_REQUIRE))
		mustOK(t, "SetTlsCertificates", h.SetTlsCertificates(clientDir))
		mustOK(t, "SetTlsVerifyPeer", h.SetTlsVerifyPeer(true))
		mustOK(t, "SetTlsHostname", h.SetTlsHostname(hostname))
		name, err := h.GetTlsHostname()
		mustOK(t, "GetTlsHostname", err)
		if *name != hostname {
			t.Fatalf("tls hostname %q", *name)
		}
		return h
	}

	h := handleFor(filepath.Join(certs, "client"), "localhost")
	mustOK(t, "ConnectUnix", h.ConnectUnix(sock))
	data := blockPattern(7, 512)
	mustOK(t, "Pwrite", h.Pwrite(data, 0, nil))
	got := make([]byte, 512)
	mustOK(t, "Pread", h.Pread(got, 0, nil))
	if string(got) != string(data) {
		t.Fatalf("read back different bytes over X.509 TLS")
	}

	wrong := handleFor(filepath.Join(certs, "client"), "elsewhere.example")
	if err := wrong.ConnectUnix(sock); err == nil {
		t.Fatalf("a certificate for another host was accepted")
	}
	other := makeX509(filepath.Join(t.TempDir(), "other"))
	stranger := handleFor(filepath.Join(other, "client"), "localhost")
	if err := stranger.ConnectUnix(sock); err == nil {
		t.Fatalf("a server signed by an unknown CA was accepted")
	}
	if ready, _ := stranger.AioIsReady(); ready {
		t.Fatalf("a refused handle is ready")
	}
}
