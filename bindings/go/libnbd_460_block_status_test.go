package libnbd

import (
	"reflect"
	"testing"
)

// scenarios: 465

// nbdkit's data plugin: a 64 KiB hole, then data.
func newBlockStatusHandle(t *testing.T) *Libnbd {
	h := newTestHandle(t)
	mustOK(t, "AddMetaContext", h.AddMetaContext(CONTEXT_BASE_ALLOCATION))
	mustOK(t, "ConnectCommand", h.ConnectCommand(nbdkitArgv("data", "data=@65536 1", "size=131072")))
	return h
}

func Test460BlockStatus(t *testing.T) {
	h := newBlockStatusHandle(t)
	var entries []uint32
	err := h.BlockStatus(131072, 0, func(metacontext string, offset uint64, e []uint32, error *int) int {
		if metacontext == CONTEXT_BASE_ALLOCATION {
			entries = e
		}
		return 0
	}, nil)
	mustOK(t, "BlockStatus", err)
	data := false
	for i := 1; i < len(entries); i += 2 {
		data = data || entries[i]&STATE_HOLE == 0
	}
	if len(entries) < 4 || entries[0] != 65536 || entries[1]&STATE_HOLE == 0 || !data {
		t.Fatalf("entries %v: expected a 64 KiB hole, then data", entries)
	}
	var total uint64
	for i := 0; i < len(entries); i += 2 {
		total += uint64(entries[i])
	}
	if total != 131072 {
		t.Fatalf("entries %v cover %d bytes", entries, total)
	}
	var o BlockStatusOptargs
	o.FlagsSet = true
	o.Flags = CMD_FLAG_REQ_ONE
	err = h.BlockStatus(131072, 0, func(metacontext string, offset uint64, e []uint32, error *int) int {
		entries = e
		return 0
	}, &o)
	mustOK(t, "BlockStatus REQ_ONE", err)
	if len(entries) != 2 {
		t.Fatalf("REQ_ONE gave %v", entries)
	}

	var e64 []LibnbdExtent
	err = h.BlockStatus64(131072, 0, func(metacontext string, offset uint64, e []LibnbdExtent, error *int) int {
		e64 = e
		return 0
	}, nil)
	mustOK(t, "BlockStatus64", err)
	var again []uint32
	mustOK(t, "BlockStatus", h.BlockStatus(131072, 0, func(m string, o uint64, e []uint32, error *int) int {
		again = e
		return 0
	}, nil))
	var as32 []uint32
	for _, x := range e64 {
		as32 = append(as32, uint32(x.Length), uint32(x.Flags))
	}
	if !reflect.DeepEqual(as32, again) {
		t.Fatalf("64-bit extents %v differ from 32-bit ones %v", e64, again)
	}
}
