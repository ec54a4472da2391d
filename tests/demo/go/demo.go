// The demo program, Go edition: the same steps as core/examples/demo.rs,
// demo.c, demo.py, demo.ml and demo.js, printing what it saw as one JSON
// object for `cargo xtask demo`.
//
// Usage: demo [URI]   (without a URI it runs `nbdkit memory 1M`)
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"libguestfs.org/libnbd"
)

const patternLen = 65536

var nbdkit = []string{"nbdkit", "-s", "--exit-with-parent", "memory", "1M"}

func check(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %s\n", err)
		os.Exit(1)
	}
}

func connect(h *libnbd.Libnbd, uri string) error {
	if uri != "" {
		return h.ConnectUri(uri)
	}
	return h.ConnectCommand(nbdkit)
}

func main() {
	uri := ""
	if len(os.Args) > 1 {
		uri = os.Args[1]
	}
	h, err := libnbd.Create()
	check(err)
	check(h.AddMetaContext(libnbd.CONTEXT_BASE_ALLOCATION))
	check(connect(h, uri))
	size, err := h.GetSize()
	check(err)
	readOnly, err := h.IsReadOnly()
	check(err)
	pattern := "skipped (read-only)"
	if !readOnly {
		want := make([]byte, patternLen)
		for i := range want {
			want[i] = byte(i % 251)
		}
		check(h.Pwrite(want, 0, nil))
		got := make([]byte, patternLen)
		check(h.Pread(got, 0, nil))
		pattern = "MISMATCH"
		if bytes.Equal(got, want) {
			pattern = "ok"
		}
	}
	flag := func(f func() (bool, error)) bool {
		v, err := f()
		check(err)
		return v
	}
	flags := map[string]bool{
		"read_only":      readOnly,
		"can_flush":      flag(h.CanFlush),
		"can_fua":        flag(h.CanFua),
		"can_trim":       flag(h.CanTrim),
		"can_zero":       flag(h.CanZero),
		"can_multi_conn": flag(h.CanMultiConn),
	}
	extents := [][2]uint32{}
	can, err := h.CanMetaContext(libnbd.CONTEXT_BASE_ALLOCATION)
	check(err)
	if can {
		count := size
		if count > 1<<20 {
			count = 1 << 20
		}
		check(h.BlockStatus(count, 0, func(metacontext string, offset uint64, entries []uint32, error *int) int {
			if metacontext == libnbd.CONTEXT_BASE_ALLOCATION {
				for i := 0; i+1 < len(entries); i += 2 {
					extents = append(extents, [2]uint32{entries[i], entries[i+1]})
				}
			}
			return 0
		}, nil))
	}
	check(h.Shutdown(nil))
	h.Close()

	exports := []string{}
	lh, err := libnbd.Create()
	check(err)
	check(lh.SetOptMode(true))
	check(connect(lh, uri))
	if _, err := lh.OptList(func(name string, description string) int {
		exports = append(exports, name)
		return 0
	}); err != nil {
		exports = []string{fmt.Sprintf("(not listed: %s)", err)}
	}
	lh.OptAbort()
	lh.Close()

	out, err := json.Marshal(map[string]interface{}{
		"language": "Go", "size": size, "pattern": pattern, "flags": flags,
		"extents": extents, "exports": exports,
	})
	check(err)
	fmt.Println(string(out))
}
