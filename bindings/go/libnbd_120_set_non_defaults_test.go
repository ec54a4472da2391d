package libnbd

import "testing"

func Test120SetNonDefaults(t *testing.T) {
	h := handle(t)
	must(t, "SetExportName", h.SetExportName("name"))
	name, err := h.GetExportName()
	must(t, "GetExportName", err)
	if *name != "name" {
		t.Fatalf("unexpected export name: %s", *name)
	}
	must(t, "SetFullInfo", h.SetFullInfo(true))
	info, err := h.GetFullInfo()
	must(t, "GetFullInfo", err)
	if !info {
		t.Fatalf("full info not set")
	}
	must(t, "SetTls", h.SetTls(TLS_ALLOW))
	tls, err := h.GetTls()
	must(t, "GetTls", err)
	if tls != TLS_ALLOW {
		t.Fatalf("tls %v", tls)
	}
	must(t, "SetRequestStructuredReplies", h.SetRequestStructuredReplies(false))
	sr, err := h.GetRequestStructuredReplies()
	must(t, "GetRequestStructuredReplies", err)
	if sr {
		t.Fatalf("structured replies still requested")
	}
	must(t, "SetHandshakeFlags", h.SetHandshakeFlags(HANDSHAKE_FLAG_FIXED_NEWSTYLE))
	flags, err := h.GetHandshakeFlags()
	must(t, "GetHandshakeFlags", err)
	if flags != HANDSHAKE_FLAG_FIXED_NEWSTYLE {
		t.Fatalf("handshake flags %v", flags)
	}
	must(t, "SetStrictMode", h.SetStrictMode(STRICT_BOUNDS))
	strict, err := h.GetStrictMode()
	must(t, "GetStrictMode", err)
	if strict != STRICT_BOUNDS {
		t.Fatalf("strict mode %v", strict)
	}
	must(t, "SetOptMode", h.SetOptMode(true))
	opt, err := h.GetOptMode()
	must(t, "GetOptMode", err)
	if !opt {
		t.Fatalf("opt mode not set")
	}
	must(t, "SetPreadInitialize", h.SetPreadInitialize(false))
	init, err := h.GetPreadInitialize()
	must(t, "GetPreadInitialize", err)
	if init {
		t.Fatalf("pread initialize still on")
	}
	must(t, "SetTlsUsername", h.SetTlsUsername("alice"))
	user, err := h.GetTlsUsername()
	must(t, "GetTlsUsername", err)
	if *user != "alice" {
		t.Fatalf("tls username %q", *user)
	}
	must(t, "AddMetaContext", h.AddMetaContext(CONTEXT_BASE_ALLOCATION))
	n, err := h.GetNrMetaContexts()
	must(t, "GetNrMetaContexts", err)
	ctx, err := h.GetMetaContext(0)
	must(t, "GetMetaContext", err)
	if n != 1 || *ctx != "base:allocation" {
		t.Fatalf("meta contexts: %d, %q", n, *ctx)
	}
	must(t, "ClearMetaContexts", h.ClearMetaContexts())
	n, err = h.GetNrMetaContexts()
	must(t, "GetNrMetaContexts", err)
	if n != 0 {
		t.Fatalf("%d meta contexts after clearing", n)
	}
	old, err := h.SetPrivateData(42)
	must(t, "SetPrivateData", err)
	now, err := h.GetPrivateData()
	must(t, "GetPrivateData", err)
	if old != 0 || now != 42 {
		t.Fatalf("private data %d then %d", old, now)
	}
}
