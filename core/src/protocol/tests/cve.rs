//! One named test per security advisory class of libnbd-security(3),
//! pinned at the machine level. Each runs the scenario that shows the
//! class cannot happen here (the scenario itself lives with its subject).
//! End-to-end counterparts: the TLS certificate checks of CVE-2024-7383
//! (untrusted CA, expired, wrong host) are `core/tests/t752_tls_x509.rs`
//! against nbdkit and qemu-nbd; ssh argument injection is also
//! `tests/c/730-ssh-uri.c`.
//!
//! scenarios: 730 740 754

use super::{data, hostile, starttls};
use crate::generated::types::PublicState;
use crate::protocol::wire::{self, PutBe};
use crate::protocol::Config;

use super::peer::*;

/// CVE-2019-14842: with TLS required, a server refusing STARTTLS must
/// not get anything in plaintext, and bytes injected after the ACK are
/// never parsed as NBD.
#[test]
fn cve_2019_14842_no_plaintext_after_tls_was_required() {
    starttls::require_refused_dies_without_sending_anything_more();
    starttls::plaintext_injected_after_the_ack_is_refused();
}

/// CVE-2021-20286: a flood of option replies ends with EPROTO in bounded
/// memory instead of running the client out of memory.
#[test]
fn cve_2021_20286_option_reply_flood_is_bounded() {
    hostile::option_reply_flood_ends_with_eproto();
}

/// CVE-2022-0485: a read the server failed, or did not fully answer, is
/// never reported as success (nbdcopy once copied such reads).
#[test]
fn cve_2022_0485_read_errors_never_become_success() {
    data::read_error_simple();
    data::structured_read_error_chunk();
    hostile::read_succeeds_only_when_fully_covered();
    hostile::read_not_covered_with_pread_initialize_off_fails();
}

/// CVE-2023-5215: an export size with the top bit set (negative as an
/// int64) is refused during the handshake with EOVERFLOW, so no caller
/// ever sees a negative size; the largest valid size is kept exactly.
#[test]
fn cve_2023_5215_export_size_with_top_bit_refused() {
    let srv = Server {
        size: (1u64 << 63) + 4096,
        ..Server::default()
    };
    let mut p = Peer::new(Config::default());
    p.handshake(&srv);
    assert_eq!(p.state(), PublicState::Dead);
    assert_eq!(p.m.error().expect("an error").errno(), libc::EOVERFLOW);
    // The same over NBD_OPT_EXPORT_NAME (no fixed newstyle).
    let mut p = Peer::new(Config::default());
    p.send(&newstyle_greeting(wire::FLAG_NO_ZEROES)).unwrap();
    p.expect_cflags();
    let (code, _) = p.expect_option();
    assert_eq!(code, wire::OPT_EXPORT_NAME);
    let mut reply = Vec::new();
    reply.put64(u64::MAX);
    reply.put16(wire::FLAG_HAS_FLAGS);
    assert_eq!(p.send(&reply).unwrap_err().errno(), libc::EOVERFLOW);
    // i64::MAX itself is a valid size.
    let p = connected(
        Config::default(),
        &Server {
            size: i64::MAX as u64,
            ..Server::default()
        },
    );
    assert_eq!(p.m.info().size, i64::MAX as u64);
}

/// CVE-2023-5871: a 64-bit extent given to a 32-bit extent callback is
/// narrowed to what fits (4 GiB - 64 MiB), never wrapped or truncated to
/// a wrong length.
#[test]
fn cve_2023_5871_wide_extents_narrowed_safely() {
    data::extended_block_status_to_narrow_callback();
}

/// The 2025 ssh argument injection: an nbd+ssh host or user name that
/// could pass for an ssh option is refused before anything runs.
#[test]
fn cve_2025_ssh_argument_injection_refused() {
    crate::uri::tests::ssh_uris_refuse_option_like_names();
}
