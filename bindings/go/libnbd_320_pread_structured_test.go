package libnbd

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func Test320PreadStructured(t *testing.T) {
	expected := make([]byte, 512)
	for i := 0; i < 512; i += 8 {
		binary.BigEndian.PutUint64(expected[i:i+8], uint64(i))
	}
	h := connectedHandle(t, "pattern", "size=512")
	buf := make([]byte, 512)
	calls := 0
	err := h.PreadStructured(buf, 0, func(sub []byte, offset uint64, status uint, error *int) int {
		calls++
		if *error != 0 || offset != 0 || status != uint(READ_DATA) || !bytes.Equal(sub, expected) {
			t.Errorf("chunk: offset %d, status %d, error %d", offset, status, *error)
		}
		return 0
	}, nil)
	mustOK(t, "PreadStructured", err)
	if calls != 1 || !bytes.Equal(buf, expected) {
		t.Fatalf("chunk callback ran %d times; data equal %v", calls, bytes.Equal(buf, expected))
	}
	var o PreadStructuredOptargs
	o.FlagsSet = true
	o.Flags = CMD_FLAG_DF
	mustOK(t, "PreadStructured DF", h.PreadStructured(buf, 0, func(sub []byte, offset uint64, status uint, error *int) int {
		return 0
	}, &o))
	if err := h.PreadStructured(buf, 0, nil, nil); err == nil {
		t.Fatalf("a nil chunk callback was accepted")
	}
}
