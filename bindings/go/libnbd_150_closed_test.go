package libnbd

import "testing"

func Test150ClosedHandle(t *testing.T) {
	h, err := Create()
	mustOK(t, "Create", err)
	h.Close()
	_, err = h.GetSize()
	e, ok := err.(*LibnbdError)
	if !ok || e.Op != "get_size" || e.Errmsg != "handle is closed" {
		t.Fatalf("GetSize on a closed handle: %v", err)
	}
	if err := h.ConnectUri("nbd://127.0.0.1/"); err == nil {
		t.Fatalf("ConnectUri on a closed handle succeeded")
	}
	buf := make([]byte, 512)
	if err := h.Pread(buf, 0, nil); err == nil {
		t.Fatalf("Pread on a closed handle succeeded")
	}
}
