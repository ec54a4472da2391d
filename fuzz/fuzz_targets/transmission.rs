#![no_main]
//! Fuzz target `transmission`: see nbd_fuzz::transmission.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nbd_fuzz::transmission(data);
});
