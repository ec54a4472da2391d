package libnbd

import "testing"

func Test240MetaContexts(t *testing.T) {
	h := newTestHandle(t)
	mustOK(t, "SetOptMode", h.SetOptMode(true))
	mustOK(t, "ConnectCommand", h.ConnectCommand(nbdkitArgv("memory", "size=1M")))
	var seen []string
	n, err := h.OptListMetaContext(func(name string) int {
		seen = append(seen, name)
		return 0
	})
	mustOK(t, "OptListMetaContext", err)
	found := false
	for _, s := range seen {
		found = found || s == CONTEXT_BASE_ALLOCATION
	}
	if n == 0 || !found {
		t.Fatalf("OptListMetaContext: %d, %v", n, seen)
	}
	mustOK(t, "AddMetaContext", h.AddMetaContext(CONTEXT_BASE_ALLOCATION))
	mustOK(t, "OptGo", h.OptGo())
	can, err := h.CanMetaContext(CONTEXT_BASE_ALLOCATION)
	mustOK(t, "CanMetaContext", err)
	if !can {
		t.Fatalf("base:allocation not negotiated")
	}
}
