#![no_main]
//! Fuzz target `handshake`: see nbd_fuzz::handshake.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nbd_fuzz::handshake(data);
});
