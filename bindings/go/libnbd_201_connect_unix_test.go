package libnbd

import "testing"

// scenarios: 203

func Test201ConnectUnix(t *testing.T) {
	sock := unixServer(t, "memory", "size=2M")
	h := handle(t)
	must(t, "ConnectUnix", h.ConnectUnix(sock))
	size, err := h.GetSize()
	must(t, "GetSize", err)
	if size != 2<<20 {
		t.Fatalf("size %d", size)
	}

	u := handle(t)
	must(t, "ConnectUri", u.ConnectUri("nbd+unix:///?socket="+sock))
	size, err = u.GetSize()
	must(t, "GetSize", err)
	uri, err := u.GetUri()
	must(t, "GetUri", err)
	if size != 2<<20 || *uri == "" {
		t.Fatalf("size %d, uri %q", size, *uri)
	}
}
