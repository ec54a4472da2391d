//! 100: a handle before it connects: names, settings and their libnbd
//! defaults, errors for calls made in the wrong state, library facts.
//!
//! scenarios: 110 120 130 140 500 600

mod common;
use common::*;
use nbd::{AllowTransport, HandshakeFlag, Shutdown, Size, Tls};

#[test]
fn t100_defaults() {
    with_timeout(30, || {
        let h = Handle::new().unwrap();
        assert!(h.get_handle_name().unwrap().starts_with("nbd"));
        assert_eq!(h.get_export_name().unwrap(), "");
        assert_eq!(h.get_tls(), Tls::DISABLE);
        assert!(h.get_tls_verify_peer());
        assert!(h.get_request_structured_replies());
        assert!(h.get_request_extended_headers());
        assert!(h.get_request_meta_context().unwrap());
        assert!(h.get_request_block_size().unwrap());
        assert!(!h.get_full_info().unwrap());
        assert!(!h.get_opt_mode());
        assert!(h.get_pread_initialize());
        assert_eq!(
            h.get_handshake_flags(),
            HandshakeFlag::FIXED_NEWSTYLE | HandshakeFlag::NO_ZEROES
        );
        assert_eq!(h.get_strict_mode(), Strict::MASK);
        assert_eq!(h.get_nr_meta_contexts().unwrap(), 0);
        assert_eq!(h.get_socket_activation_name().unwrap(), "");
        assert_eq!(h.get_private_data(), 0);
        assert!(h.aio_is_created());
        assert!(!h.aio_is_ready());
        assert_eq!(h.aio_get_direction(), 0);
        assert_eq!(h.stats_bytes_sent(), 0);
        assert_eq!(
            h.connection_state().unwrap().split(':').next(),
            Some("START")
        );
    });
}

#[test]
fn t101_names_are_sequential_and_settable() {
    with_timeout(30, || {
        let a = Handle::new().unwrap();
        let b = Handle::new().unwrap();
        let na: u64 = a.get_handle_name().unwrap()[3..].parse().unwrap();
        let nb: u64 = b.get_handle_name().unwrap()[3..].parse().unwrap();
        assert!(nb > na);
        a.set_handle_name("mine").unwrap();
        assert_eq!(a.get_handle_name().unwrap(), "mine");
    });
}

#[test]
fn t102_setters_round_trip() {
    with_timeout(30, || {
        let h = Handle::new().unwrap();
        h.set_export_name("disk").unwrap();
        assert_eq!(h.get_export_name().unwrap(), "disk");
        expect_errno(h.set_export_name(&"x".repeat(5000)), libc::ENAMETOOLONG);
        h.set_full_info(true).unwrap();
        assert!(h.get_full_info().unwrap());
        h.set_opt_mode(true).unwrap();
        assert!(h.get_opt_mode());
        h.set_request_structured_replies(false).unwrap();
        assert!(!h.get_request_structured_replies());
        h.set_request_extended_headers(false).unwrap();
        assert!(!h.get_request_extended_headers());
        h.set_handshake_flags(HandshakeFlag::NO_ZEROES).unwrap();
        assert_eq!(h.get_handshake_flags(), HandshakeFlag::NO_ZEROES);
        expect_errno(h.set_handshake_flags(HandshakeFlag(0x80)), libc::EINVAL);
        h.set_strict_mode(Strict::BOUNDS).unwrap();
        assert_eq!(h.get_strict_mode(), Strict::BOUNDS);
        h.set_pread_initialize(false).unwrap();
        assert!(!h.get_pread_initialize());
        h.add_meta_context("base:allocation").unwrap();
        h.add_meta_context("qemu:dirty-bitmap:x").unwrap();
        assert_eq!(h.get_nr_meta_contexts().unwrap(), 2);
        assert_eq!(h.get_meta_context(1).unwrap(), "qemu:dirty-bitmap:x");
        expect_errno(h.get_meta_context(2), libc::EINVAL);
        h.clear_meta_contexts().unwrap();
        assert_eq!(h.get_nr_meta_contexts().unwrap(), 0);
        h.set_tls_username("alice").unwrap();
        assert_eq!(h.get_tls_username().unwrap(), "alice");
        h.set_tls_verify_peer(false).unwrap();
        assert!(!h.get_tls_verify_peer());
        h.set_tls_hostname("example.com").unwrap();
        assert_eq!(h.get_tls_hostname().unwrap(), "example.com");
        h.set_socket_activation_name("nbd").unwrap();
        assert_eq!(h.get_socket_activation_name().unwrap(), "nbd");
        expect_errno(h.set_socket_activation_name("a:b"), libc::EINVAL);
        h.set_uri_allow_transports(AllowTransport::UNIX).unwrap();
        h.set_uri_allow_tls(Tls::DISABLE).unwrap();
        h.set_uri_allow_local_file(true).unwrap();
        assert_eq!(h.set_private_data(42), 0);
        assert_eq!(h.set_private_data(7), 42);
        assert_eq!(h.get_private_data(), 7);
    });
}

#[test]
fn t103_tls_settings() {
    with_timeout(30, || {
        let h = Handle::new().unwrap();
        assert!(h.supports_tls());
        for tls in [Tls::ALLOW, Tls::REQUIRE, Tls::DISABLE] {
            h.set_tls(tls).unwrap();
            assert_eq!(h.get_tls(), tls);
        }
        expect_errno(h.set_tls(Tls(7)), libc::EINVAL);
        assert_eq!(h.get_tls(), Tls::DISABLE);

        // The two getters this library adds: "" until set, then the setting.
        assert_eq!(h.get_tls_certificates().unwrap(), "");
        assert_eq!(h.get_tls_psk_file().unwrap(), "");
        h.set_tls_certificates(std::path::Path::new("/etc/pki/nbd"))
            .unwrap();
        h.set_tls_psk_file(std::path::Path::new("/tmp/keys.psk"))
            .unwrap();
        assert_eq!(h.get_tls_certificates().unwrap(), "/etc/pki/nbd");
        assert_eq!(h.get_tls_psk_file().unwrap(), "/tmp/keys.psk");
    });
}

#[test]
fn t104_calls_before_connecting_fail_with_enotconn() {
    with_timeout(30, || {
        let h = Handle::new().unwrap();
        let mut buf = [0u8; 512];
        expect_errno(h.pread(&mut buf, 0, None), libc::ENOTCONN);
        expect_errno(h.pwrite(&buf, 0, None), libc::ENOTCONN);
        expect_errno(h.get_size(), libc::ENOTCONN);
        expect_errno(h.is_read_only(), libc::ENOTCONN);
        expect_errno(h.get_block_size(Size::MINIMUM), libc::ENOTCONN);
        expect_errno(h.opt_go(), libc::ENOTCONN);
        expect_errno(h.shutdown(None), libc::ENOTCONN);
        expect_errno(h.aio_disconnect(None), libc::ENOTCONN);
        expect_errno(h.get_uri(), libc::ENOTCONN);
        expect_errno(h.aio_get_fd(), libc::EINVAL);
        expect_errno(h.poll(0), libc::EINVAL);
        expect_errno(h.aio_notify_read(), libc::EINVAL);
        expect_errno(h.kill_subprocess(0), libc::ESRCH);
        expect_errno(h.get_subprocess_pid(), libc::ESRCH);
        expect_errno(h.shutdown(Some(Shutdown(1))), libc::ENOTCONN);
        let e = h.pread(&mut buf, 0, None).unwrap_err();
        assert_eq!(e.context(), Some("nbd_pread"));
    });
}

#[test]
fn t105_library_facts() {
    with_timeout(30, || {
        let h = Handle::new().unwrap();
        assert_eq!(h.get_package_name(), "libnbd");
        assert_eq!(h.get_version(), "1.24.0");
        assert!(h.get_version_extra().starts_with("nbd-rs "));
        assert!(h.supports_uri());
        assert!(h.supports_vsock());
        assert!(h.is_uri("nbd://localhost/").unwrap());
        assert!(h.is_uri("nbd+unix:///?socket=/s").unwrap());
        assert!(!h.is_uri("/tmp/disk.img").unwrap());
    });
}

#[test]
fn t106_debug_callback_receives_trace() {
    with_timeout(30, || {
        use std::sync::{Arc, Mutex};
        let h = Handle::new().unwrap();
        let seen = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
        let s = seen.clone();
        h.set_debug_callback(Box::new(move |ctx, msg| {
            s.lock().unwrap().push((ctx.to_string(), msg.to_string()));
            0
        }))
        .unwrap();
        h.set_debug(true).unwrap();
        assert!(h.get_debug());
        let _ = h.get_size();
        h.set_debug(false).unwrap();
        let seen = seen.lock().unwrap();
        assert!(
            seen.iter()
                .any(|(c, m)| c == "nbd_get_size" && m.starts_with("enter")),
            "{seen:?}"
        );
        assert!(
            seen.iter()
                .any(|(c, m)| c == "nbd_get_size" && m.contains("error")),
            "{seen:?}"
        );
        h.clear_debug_callback().unwrap();
    });
}

#[test]
fn t107_handles_are_send_and_sync() {
    with_timeout(30, || {
        fn check<T: Send + Sync>() {}
        check::<Handle>();
    });
}
