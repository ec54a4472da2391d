# nbdcopy with four connections: nbdkit pattern -> file, file -> NBD
# server -> second file, every copy compared byte for byte.
source "$(dirname "$0")/common.bash"

size=1G
loads_ours nbdcopy --connections=4 -- [ nbdkit --exit-with-parent pattern $size ] "$tmp/a.img"
# The reference: the same data through the system libnbd.
nbdcopy -- [ nbdkit --exit-with-parent pattern $size ] "$tmp/ref.img"
cmp "$tmp/ref.img" "$tmp/a.img"
echo "pattern -> file: identical"

# File -> NBD server (writes over 4 connections, multi-conn).
truncate -s $size "$tmp/b.img"
serve_unix sock nbdkit -f -U "$tmp/sock" --exit-with-parent file "$tmp/b.img"
on_ours nbdcopy --connections=4 --requests=16 "$tmp/a.img" "nbd+unix:///?socket=$tmp/sock"
# ... and back out of it, to stdout this time.
on_ours nbdcopy --connections=4 "nbd+unix:///?socket=$tmp/sock" - | cmp - "$tmp/ref.img"
cmp "$tmp/b.img" "$tmp/ref.img"
echo "file -> NBD -> file: identical"

# Four connections, each with its own thread and requests in flight, under
# valgrind: no invalid access in our library.
on_ours valgrind --quiet --error-exitcode=99 nbdcopy --connections=4 \
    -- [ nbdkit --exit-with-parent pattern 64M ] "$tmp/c.img"
cmp "$tmp/c.img" <(head -c 64M "$tmp/ref.img")
echo "nbdcopy under valgrind: no errors, identical"
echo ok
