package libnbd

import "testing"

func Test120SetNonDefaults(t *testing.T) {
	h := newTestHandle(t)
	mustOK(t, "SetExportName", h.SetExportName("name"))
	name, err := h.GetExportName()
	mustOK(t, "GetExportName", err)
	if *name != "name" {
		t.Fatalf("unexpected export name: %s", *name)
	}
	mustOK(t, "SetFullInfo", h.SetFullInfo(true))
	info, err := h.GetFullInfo()
	mustOK(t, "GetFullInfo", err)
	if !info {
		t.Fatalf("full info not set")
	}
	mustOK(t, "SetTls", h.SetTls(TLS_ALLOW))
	tls, err := h.GetTls()
	mustOK(t, "GetTls", err)
	if tls != TLS_ALLOW {
		t.Fatalf("tls %v", tls)
	}
	mustOK(t, "SetRequestStructuredReplies", h.SetRequestStructuredReplies(false))
	sr, err := h.GetRequestStructuredReplies()
	mustOK(t, "GetRequestStructuredReplies", err)
	if sr {
		t.Fatalf("structured replies still requested")
	}
	mustOK(t, "SetHandshakeFlags", h.SetHandshakeFlags(HANDSHAKE_FLAG_FIXED_NEWSTYLE))
	flags, err := h.GetHandshakeFlags()
	mustOK(t, "GetHandshakeFlags", err)
	if flags != HANDSHAKE_FLAG_FIXED_NEWSTYLE {
		t.Fatalf("handshake flags %v", flags)
	}
	mustOK(t, "SetStrictMode", h.SetStrictMode(STRICT_BOUNDS))
	strict, err := h.GetStrictMode()
	mustOK(t, "GetStrictMode", err)
	if strict != STRICT_BOUNDS {
		t.Fatalf("strict mode %v", strict)
	}
	mustOK(t, "SetOptMode", h.SetOptMode(true))
	opt, err := h.GetOptMode()
	mustOK(t, "GetOptMode", err)
	if !opt {
		t.Fatalf("opt mode not set")
	}
	mustOK(t, "SetPreadInitialize", h.SetPreadInitialize(false))
	init, err := h.GetPreadInitialize()
	mustOK(t, "GetPreadInitialize", err)
	if init {
		t.Fatalf("pread initialize still on")
	}
	mustOK(t, "SetTlsUsername", h.SetTlsUsername("alice"))
	user, err := h.GetTlsUsername()
	mustOK(t, "GetTlsUsername", err)
	if *user != "alice" {
		t.Fatalf("tls username %q", *user)
	}
	mustOK(t, "AddMetaContext", h.AddMetaContext(CONTEXT_BASE_ALLOCATION))
	n, err := h.GetNrMetaContexts()
	mustOK(t, "GetNrMetaContexts", err)
	ctx, err := h.GetMetaContext(0)
	mustOK(t, "GetMetaContext", err)
	if n != 1 || *ctx != "base:allocation" {
		t.Fatalf("meta contexts: %d, %q", n, *ctx)
	}
	mustOK(t, "ClearMetaContexts", h.ClearMetaContexts())
	n, err = h.GetNrMetaContexts()
	mustOK(t, "GetNrMetaContexts", err)
	if n != 0 {
		t.Fatalf("%d meta contexts after clearing", n)
	}
	old, err := h.SetPrivateData(42)
	mustOK(t, "SetPrivateData", err)
	now, err := h.GetPrivateData()
	mustOK(t, "GetPrivateData", err)
	if old != 0 || now != 42 {
		t.Fatalf("private data %d then %d", old, now)
	}
}
