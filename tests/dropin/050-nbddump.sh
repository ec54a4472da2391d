# nbddump prints the same hexdump on our library as on the system one.
source "$(dirname "$0")/common.bash"

serve_unix sock nbdkit -f -U "$tmp/sock" --exit-with-parent \
    data '@0 "hello" @4096 1 2 3 @65530 255 255 255 255 255 255' size=64K
uri="nbd+unix:///?socket=$tmp/sock"
loads_ours nbddump "$uri" > "$tmp/have"
nbddump "$uri" > "$tmp/want"
cmp "$tmp/want" "$tmp/have"
grep -q hello "$tmp/have"
echo ok
