# Sourced by every drop-in check. NBD_LIBDIR is the installed library's
# directory (set by `cargo xtask test`); Debian's programs are pointed at
# it with LD_LIBRARY_PATH, and `loads_ours` proves from the dynamic
# loader's own trace that they really ran on it.
set -euo pipefail

: "${NBD_LIBDIR:?set NBD_LIBDIR to the directory holding our libnbd.so.0}"
ours="$NBD_LIBDIR/libnbd.so.0"
test -f "$ours"

tmp="$(mktemp -d /tmp/nbd-dropin.XXXXXX)"
pids=()
cleanup () {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# Run a program on our library.
on_ours () {
    LD_LIBRARY_PATH="$NBD_LIBDIR" "$@"
}

# Run a program on our library and fail unless the loader initialised our
# libnbd.so.0 and not the system one.
loads_ours () {
    local trace="$tmp/ld.$RANDOM"
    LD_DEBUG=libs LD_DEBUG_OUTPUT="$trace" LD_LIBRARY_PATH="$NBD_LIBDIR" "$@"
    if ! grep -q "calling init: $ours\$" "$trace".*; then
        echo "FAIL: $1 did not load $ours" >&2
        grep "libnbd" "$trace".* >&2 || true
        return 1
    fi
    if grep -q "calling init: /usr/lib/.*/libnbd.so.0\$" "$trace".*; then
        echo "FAIL: $1 also loaded the system libnbd" >&2
        return 1
    fi
    rm -f "$trace".*
}

# Start a server in the background on Unix socket $tmp/$1 and wait until
# it listens; its PID is killed at exit.
serve_unix () {
    local sock="$tmp/$1"; shift
    "$@" &
    pids+=($!)
    local i
    for i in $(seq 100); do
        test -S "$sock" && return 0
        sleep 0.1
    done
    echo "FAIL: server $* did not create $sock" >&2
    return 1
}

# nbdinfo prints the same (output, errors and exit status) on our library
# as on the system one, for URI $1 and each mode (a quoted list of options,
# "" for none) after it.
same_nbdinfo () {
    local uri="$1"; shift
    local mode want have
    for mode in "$@"; do
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
}
