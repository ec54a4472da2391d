package libnbd

import "testing"

// scenarios: 203

func Test201ConnectUnix(t *testing.T) {
	sock := startUnixServer(t, "memory", "size=2M")
	h := newTestHandle(t)
	mustOK(t, "ConnectUnix", h.ConnectUnix(sock))
	size, err := h.GetSize()
	mustOK(t, "GetSize", err)
	if size != 2<<20 {
		t.Fatalf("size %d", size)
	}

	u := newTestHandle(t)
	mustOK(t, "ConnectUri", u.ConnectUri("nbd+unix:///?socket="+sock))
	size, err = u.GetSize()
	mustOK(t, "GetSize", err)
	uri, err := u.GetUri()
	mustOK(t, "GetUri", err)
	if size != 2<<20 || *uri == "" {
		t.Fatalf("size %d, uri %q", size, *uri)
	}
}
