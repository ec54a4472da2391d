# nbdinfo (plain, --json, --list, --map) on nbdkit prints exactly what it
# prints on the system libnbd.
source "$(dirname "$0")/common.bash"

serve_unix sock nbdkit -f -U "$tmp/sock" --exit-with-parent \
    data "@65536 1 2 3 @1048576 4 5 6" size=8M
uri="nbd+unix:///?socket=$tmp/sock"

loads_ours nbdinfo "$uri" > /dev/null
same_nbdinfo "$uri" "" --json --list --map "--map --totals" --size --can=trim --is=read-only

# No invalid access in our library under a real program (nbdinfo's own
# allocations are its business, so leaks are not checked here).
on_ours valgrind --quiet --error-exitcode=99 nbdinfo --map "$uri" > /dev/null
echo "nbdinfo --map under valgrind: no errors"

# The command form, where nbdinfo has the library run the server.
on_ours nbdinfo --size -- [ nbdkit memory 1M ] | grep -qx 1048576
echo ok
