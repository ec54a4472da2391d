module example.com/aiocopy

go 1.19

require libguestfs.org/libnbd v1.24.0

// The package is this repository's (bindings/go), built over its
// libnbd.so.0; a program written for libnbd's own binding needs nothing
// else changed.
replace libguestfs.org/libnbd => ../../../bindings/go
