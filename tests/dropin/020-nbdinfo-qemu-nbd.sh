# nbdinfo (plain, --json, --list, --map) on qemu-nbd serving a qcow2 image
# with data and holes prints what it prints on the system libnbd.
source "$(dirname "$0")/common.bash"

qemu-img create -q -f qcow2 "$tmp/disk.qcow2" 64M
qemu-io -f qcow2 -c "write -P 0x55 1M 2M" -c "write -z 8M 1M" "$tmp/disk.qcow2" > /dev/null
serve_unix sock qemu-nbd -f qcow2 -k "$tmp/sock" -t -x disk --description "test disk" "$tmp/disk.qcow2"
uri="nbd+unix:///disk?socket=$tmp/sock"

loads_ours nbdinfo "$uri" > /dev/null
same_nbdinfo "$uri" "" --json --list --map "--map=qemu:allocation-depth" --size
echo ok
