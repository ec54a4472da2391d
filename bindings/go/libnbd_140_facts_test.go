package libnbd

import (
	"strings"
	"testing"
)

func Test140Facts(t *testing.T) {
	h := newTestHandle(t)
	v, err := h.GetVersion()
	mustOK(t, "GetVersion", err)
	if !strings.HasPrefix(*v, "1.") {
		t.Fatalf("version %q", *v)
	}
	p, err := h.GetPackageName()
	mustOK(t, "GetPackageName", err)
	if *p != "libnbd" {
		t.Fatalf("package name %q", *p)
	}
	tls, err := h.SupportsTls()
	mustOK(t, "SupportsTls", err)
	uri, err := h.SupportsUri()
	mustOK(t, "SupportsUri", err)
	if !tls || !uri {
		t.Fatalf("supports TLS %v, URIs %v", tls, uri)
	}
	// libnbd's values.
	if TLS_DISABLE != 0 || TLS_ALLOW != 1 || TLS_REQUIRE != 2 || CMD_FLAG_FUA != 1 || CMD_FLAG_REQ_ONE != 8 {
		t.Fatalf("enum or flag values differ from libnbd's")
	}
	if AIO_DIRECTION_READ != 1 || AIO_DIRECTION_WRITE != 2 || AIO_DIRECTION_BOTH != 3 || READ_DATA != 1 ||
		READ_HOLE != 2 || READ_ERROR != 3 || STATE_HOLE != 1 || STATE_ZERO != 2 || STATE_DIRTY != 1 {
		t.Fatalf("integer constants differ from libnbd's")
	}
	if CONTEXT_BASE_ALLOCATION != "base:allocation" || context_base_allocation != "base:allocation" ||
		NAMESPACE_BASE != "base:" || CONTEXT_QEMU_DIRTY_BITMAP != "qemu:dirty-bitmap:" {
		t.Fatalf("string constants differ from libnbd's")
	}
	if SHUTDOWN_ABANDON_PENDING != 0x10000 || ALLOW_TRANSPORT_MASK != 0x0f || SIZE_PAYLOAD != 3 {
		t.Fatalf("flag masks differ from libnbd's")
	}
}
