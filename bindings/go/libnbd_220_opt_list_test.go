package libnbd

import (
	"sort"
	"testing"
)

// scenarios: 230 250

func Test220OptList(t *testing.T) {
	sock := startUnixServer(t, "--filter=exportname", "memory", "size=1M",
		"exportname=a", "exportname=b", "exportname-list=explicit")
	h := newTestHandle(t)
	mustOK(t, "SetOptMode", h.SetOptMode(true))
	mustOK(t, "ConnectUnix", h.ConnectUnix(sock))
	var names []string
	n, err := h.OptList(func(name string, description string) int {
		names = append(names, name)
		return 0
	})
	mustOK(t, "OptList", err)
	sort.Strings(names)
	if n != 2 || len(names) != 2 || names[0] != "a" || names[1] != "b" {
		t.Fatalf("OptList: %d, %v", n, names)
	}

	// The same through the aio call and its completion callback, on a
	// connection of its own.
	h = newTestHandle(t)
	mustOK(t, "SetOptMode", h.SetOptMode(true))
	mustOK(t, "ConnectUnix", h.ConnectUnix(sock))
	var listed []string
	completed := 0
	var o AioOptListOptargs
	o.CompletionCallbackSet = true
	o.CompletionCallback = func(error *int) int {
		if *error != 0 {
			t.Errorf("aio_opt_list failed: %d", *error)
		}
		completed++
		return 1
	}
	mustOK(t, "AioOptList", h.AioOptList(func(name string, description string) int {
		listed = append(listed, name)
		return 0
	}, &o))
	for completed == 0 {
		_, err := h.Poll(1000)
		mustOK(t, "Poll", err)
	}
	if len(listed) != 2 {
		t.Fatalf("aio_opt_list listed %v", listed)
	}

	// opt_info then opt_go.
	mustOK(t, "SetExportName", h.SetExportName("b"))
	mustOK(t, "OptInfo", h.OptInfo())
	size, err := h.GetSize()
	mustOK(t, "GetSize", err)
	if size != 1<<20 {
		t.Fatalf("OptInfo size %d", size)
	}
	mustOK(t, "OptGo", h.OptGo())
	ready, err := h.AioIsReady()
	mustOK(t, "AioIsReady", err)
	if !ready {
		t.Fatalf("not ready after OptGo")
	}
}
