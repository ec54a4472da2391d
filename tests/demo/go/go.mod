module example.com/nbddemo

go 1.19

require libguestfs.org/libnbd v1.24.0

replace libguestfs.org/libnbd => ../../../bindings/go
