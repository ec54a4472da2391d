# nbdinfo (plain, --json, --list, --map) on nbdkit prints exactly what it
# prints on the system libnbd.
source "$(dirname "$0")/common.bash"

serve_unix sock nbdkit -f -U "$tmp/sock" --exit-with-parent \
    data "@65536 1 2 3 @1048576 4 5 6" size=8M
uri="nbd+unix:///?socket=$tmp/sock"

loads_ours nbdinfo "$uri" > /dev/null
for mode in "" --json --list --map "--map --totals" --size --can=trim --is=read-only; do
    # shellcheck disable=SC2086
    want="$(nbdinfo $mode "$uri" 2>&1; echo "exit $?")"
    # shellcheck disable=SC2086
    have="$(on_ours nbdinfo $mode "$uri" 2>&1; echo "exit $?")"
    if [ "$want" != "$have" ]; then
        echo "FAIL: nbdinfo $mode differs from the system libnbd" >&2
        diff <(echo "$want") <(echo "$have") >&2 || true
        exit 1
    fi
    echo "nbdinfo $mode: same output as the system libnbd"
done

# No invalid access in our library under a real program (nbdinfo's own
# allocations are its business, so leaks are not checked here).
on_ours valgrind --quiet --error-exitcode=99 nbdinfo --map "$uri" > /dev/null
echo "nbdinfo --map under valgrind: no errors"

# The command form, where nbdinfo has the library run the server.
on_ours nbdinfo --size -- [ nbdkit memory 1M ] | grep -qx 1048576
echo ok
