#![no_main]
//! Fuzz target `options`: see nbd_fuzz::options.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    nbd_fuzz::options(data);
});
