package libnbd

import "testing"

func Test100Handle(t *testing.T) {
	h, err := Create()
	if err != nil {
		t.Fatalf("could not create handle: %s", err)
	}
	h2, err := Create()
	if err != nil {
		t.Fatalf("could not create handle: %s", err)
	}
	n1, err := h.GetHandleName()
	mustOK(t, "GetHandleName", err)
	n2, err := h2.GetHandleName()
	mustOK(t, "GetHandleName", err)
	if *n1 == *n2 || *n1 == "" {
		t.Fatalf("handle names %q and %q are not unique", *n1, *n2)
	}
	mustOK(t, "SetHandleName", h.SetHandleName("mine"))
	n1, err = h.GetHandleName()
	mustOK(t, "GetHandleName", err)
	if *n1 != "mine" {
		t.Fatalf("handle name %q after SetHandleName", *n1)
	}
	if e := h.Close(); e != nil {
		t.Fatalf("Close: %s", e)
	}
	if e := h.Close(); e == nil || e.Op != "close" {
		t.Fatalf("a second Close: %v", e)
	}
	if e := h2.Close(); e != nil {
		t.Fatalf("Close: %s", e)
	}
}
