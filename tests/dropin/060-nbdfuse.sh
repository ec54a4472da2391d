# nbdfuse on our library: the export appears as a file; what is written
# to the file reads back through NBD. Skipped (exit 77) without FUSE.
source "$(dirname "$0")/common.bash"

if [ ! -c /dev/fuse ] || [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs /dev/fuse and root"
    exit 77
fi
serve_unix sock nbdkit -f -U "$tmp/sock" --exit-with-parent memory 4M
mkdir "$tmp/mnt"
LD_DEBUG=libs LD_DEBUG_OUTPUT="$tmp/ld" LD_LIBRARY_PATH="$NBD_LIBDIR" \
    nbdfuse "$tmp/mnt" --unix "$tmp/sock" &
fuse=$!
for i in $(seq 100); do
    test -f "$tmp/mnt/nbd" && break
    sleep 0.1
done
unmount () { umount "$tmp/mnt" 2>/dev/null || true; wait "$fuse" || true; }
trap 'unmount; cleanup' EXIT
test "$(stat -c %s "$tmp/mnt/nbd")" = 4194304
printf 'through fuse' | dd of="$tmp/mnt/nbd" bs=1 seek=8192 conv=notrunc status=none
sync "$tmp/mnt/nbd" 2>/dev/null || true
test "$(dd if="$tmp/mnt/nbd" bs=1 skip=8192 count=12 status=none iflag=direct 2>/dev/null || dd if="$tmp/mnt/nbd" bs=1 skip=8192 count=12 status=none)" = "through fuse"
# And through a second NBD client, straight from the server:
test "$(on_ours nbdcopy "nbd+unix:///?socket=$tmp/sock" - | dd bs=1 skip=8192 count=12 status=none)" = "through fuse"
grep -q "calling init: $ours\$" "$tmp"/ld.*
echo ok
