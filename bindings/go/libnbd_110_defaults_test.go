package libnbd

import "testing"

func Test110Defaults(t *testing.T) {
	h := newTestHandle(t)
	name, err := h.GetExportName()
	mustOK(t, "GetExportName", err)
	if *name != "" {
		t.Fatalf("unexpected export name: %s", *name)
	}
	info, err := h.GetFullInfo()
	mustOK(t, "GetFullInfo", err)
	tls, err := h.GetTls()
	mustOK(t, "GetTls", err)
	sr, err := h.GetRequestStructuredReplies()
	mustOK(t, "GetRequestStructuredReplies", err)
	bs, err := h.GetRequestBlockSize()
	mustOK(t, "GetRequestBlockSize", err)
	init, err := h.GetPreadInitialize()
	mustOK(t, "GetPreadInitialize", err)
	flags, err := h.GetHandshakeFlags()
	mustOK(t, "GetHandshakeFlags", err)
	opt, err := h.GetOptMode()
	mustOK(t, "GetOptMode", err)
	strict, err := h.GetStrictMode()
	mustOK(t, "GetStrictMode", err)
	n, err := h.GetNrMetaContexts()
	mustOK(t, "GetNrMetaContexts", err)
	if info || tls != TLS_DISABLE || !sr || !bs || !init || flags != HANDSHAKE_FLAG_MASK || opt || n != 0 {
		t.Fatalf("defaults: full info %v, tls %v, sr %v, block size %v, init %v, flags %v, opt %v, contexts %d",
			info, tls, sr, bs, init, flags, opt, n)
	}
	if strict&STRICT_COMMANDS == 0 || strict&^STRICT_MASK != 0 {
		t.Fatalf("strict mode %#x", strict)
	}
}
