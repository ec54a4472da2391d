#!/bin/sh
# Build the Rust stubs (../rust) with cargo and copy them where dune wants
# them: libnbd_stubs.a and dllnbd_stubs.so in the current directory.
#
# dune runs this in _build/default/src; cargo runs on the source tree,
# because the crate depends on the engine in ../../../core. Inside the
# nbd-rs repository the root's target/ directory is shared, so the engine
# is not built twice. NBD_CARGO_PROFILE=dev builds without optimisation.
set -eu
out=$(pwd)
project=${out%%/_build/*}
manifest=$project/rust/Cargo.toml
repo=$project/../..
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if [ -f "$repo/Cargo.toml" ] && grep -q '^\[workspace\]' "$repo/Cargo.toml"; then
    CARGO_TARGET_DIR=$(cd "$repo" && pwd)/target
  else
    CARGO_TARGET_DIR=$project/rust/target
  fi
  export CARGO_TARGET_DIR
fi
profile=${NBD_CARGO_PROFILE:-release}
case $profile in
  dev) dir=debug ;;
  *) dir=$profile ;;
esac
${CARGO:-cargo} build --quiet --profile "$profile" --manifest-path "$manifest"
cp "$CARGO_TARGET_DIR/$dir/libnbd_ocaml.a" "$out/libnbd_stubs.a"
cp "$CARGO_TARGET_DIR/$dir/libnbd_ocaml.so" "$out/dllnbd_stubs.so"
