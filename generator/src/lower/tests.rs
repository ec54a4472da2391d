//! Unit tests of the lowering pass, on `fixture.yaml`.

use super::*;

fn arg<'l, 'a>(l: &'l Lowered<'a>, call: &str, name: &str) -> &'l LArg<'a> {
    l.call(call)
        .unwrap()
        .args
        .iter()
        .find(|a| a.name == name)
        .unwrap()
}

#[test]
fn references_are_resolved() {
    let api = fixture_api();
    let l = lower(&api).unwrap();
    let LArgKind::Closure(cb) = &arg(&l, "pread_structured", "chunk").kind else {
        panic!("not a closure")
    };
    assert_eq!(
        (cb.name, cb.args.len(), cb.views_buffer),
        ("chunk", 3, true)
    );
    let LArgKind::Enum(e) = &arg(&l, "set_tls", "tls").kind else {
        panic!("not an enum")
    };
    assert_eq!(e.prefix, "TLS");
    let optional: Vec<(&str, bool)> = l.callbacks.iter().map(|c| (c.name, c.optional)).collect();
    assert_eq!(optional, [("chunk", false), ("completion", true)]);
    assert!(l.callbacks[0].views_buffer && !l.callbacks[1].views_buffer);
    assert_eq!(l.special(Special::GetErrno).name, "get_errno");
    assert_eq!(l.regular_calls().count(), 6);
}

#[test]
fn masks_are_computed_once() {
    let api = fixture_api();
    let l = lower(&api).unwrap();
    let (cmd, handshake) = (&l.flags[0], &l.flags[1]);
    assert_eq!((cmd.mask, cmd.default), (0x7, 0));
    assert_eq!((handshake.mask, handshake.default), (0x3, 0x2));
    let LArgKind::Flags { mask, .. } = &arg(&l, "set_handshake_flags", "flags").kind else {
        panic!("not flags")
    };
    assert_eq!(*mask, 0x3);
    let optmask = |call: &str| match &l.call(call).unwrap().optargs.last().unwrap().kind {
        LOptKind::Flags { mask, .. } => *mask,
        LOptKind::Closure(_) => panic!("not flags"),
    };
    assert_eq!(
        (
            optmask("pread"),
            optmask("pread_structured"),
            optmask("aio_flush")
        ),
        (0, 0x4, 0x1)
    );
    // One permitted list per synchronous call; an aio call stands for
    // itself only without a twin.
    let permitted: Vec<(&str, Option<&str>, u32)> = cmd
        .permitted
        .iter()
        .map(|p| {
            (
                p.call.name.as_str(),
                p.twin.map(|t| t.name.as_str()),
                p.mask,
            )
        })
        .collect();
    assert_eq!(
        permitted,
        [
            ("pread", None, 0),
            ("pread_structured", Some("aio_pread_structured"), 0x4),
            ("aio_flush", None, 0x1)
        ]
    );
    assert!(handshake.permitted.is_empty());
}

#[test]
fn a_bytes_out_argument_becomes_the_return_value() {
    let api = fixture_api();
    let l = lower(&api).unwrap();
    let pread = l.call("pread").unwrap();
    assert_eq!(pread.returned_buffer, Some("buf"));
    assert_eq!(
        pread.read_buffer.as_ref().unwrap().initialize("buf"),
        "h.initialize_read_buffer(buf)"
    );
    // A persistent buffer is filled later: the aio call returns a cookie.
    let aio = l.call("aio_pread_structured").unwrap();
    assert_eq!(aio.returned_buffer, None);
    assert_eq!(
        aio.read_buffer.as_ref().unwrap().initialize("buf"),
        "h.initialize_aio_read_buffer(&buf)"
    );
    assert!(l.call("set_tls").unwrap().read_buffer.is_none());
    // The chunk callback is shown pieces of the buffer being read.
    assert!(l.call("pread_structured").unwrap().views_read_buffer && !pread.views_read_buffer);
}

#[test]
fn origins_and_versions() {
    let api = fixture_api();
    let l = lower(&api).unwrap();
    let flush = l.call("aio_flush").unwrap();
    assert_eq!(
        flush.origin_c,
        "Extension of this library, not in libnbd. C: `nbd_aio_flush`."
    );
    assert_eq!((flush.since, flush.version), (None, (1, 24)));
    let flags = l.call("set_handshake_flags").unwrap();
    assert_eq!(
        (flags.origin.as_str(), flags.since),
        ("Since libnbd 1.2.", Some("1.2"))
    );
}

#[test]
fn c_types_and_core_call_sites() {
    let api = fixture_api();
    let l = lower(&api).unwrap();
    let decls = |ps: &[CParam]| {
        ps.iter()
            .map(|p| p.ty.c_decl(&p.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let call = l.call("pread_structured").unwrap();
    assert_eq!(
        decls(&call.c_params),
        "struct nbd_handle *h, void *buf, size_t count, uint64_t offset, nbd_chunk_callback chunk_callback, uint32_t flags"
    );
    assert_eq!(call.c_ret.c(), "int");
    assert_eq!(
        decls(&l.callbacks[0].c_params),
        "void *user_data, const void *subbuf, size_t count, uint64_t offset, int *error"
    );
    assert!(decls(&l.special(Special::Create).c_params).is_empty());
    assert_eq!(arg(&l, "set_tls", "tls").core_arg("tls"), "nbd::Tls(tls)");
    assert_eq!(arg(&l, "pread", "offset").core_arg("offset"), "offset");
    assert_eq!(
        call.optargs[0].core_arg("flags"),
        "Some(nbd::CmdFlag(flags))"
    );
}

#[test]
fn an_invalid_description_is_refused_before_lowering() {
    let mut api = fixture_api();
    api.calls[4].args[0].kind = ArgKind::Enum {
        r#enum: "no_such_enum".into(),
    };
    let errs = lower(&api).err().expect("refused");
    assert!(
        errs.iter().any(|e| e.message.contains("no_such_enum")),
        "{errs:?}"
    );
}

#[test]
fn async_forms_follow_the_aio_twins() {
    let api = fixture_api();
    let l = lower(&api).unwrap();
    let form = |name: &str| l.call(name).unwrap().async_form;
    // A twin with a completion callback and the same arguments.
    assert_eq!(form("pread_structured"), AsyncForm::Completion);
    // A data command without a twin cannot be awaited, nor blocked on.
    assert_eq!(form("pread"), AsyncForm::Omitted);
    assert_eq!(form("set_tls"), AsyncForm::Sync);
    assert_eq!(form("aio_flush"), AsyncForm::Omitted);
    assert_eq!(form("create"), AsyncForm::Omitted);
}

#[test]
fn every_call_of_api_yaml_that_waits_on_the_server_has_an_async_form() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../api.yaml");
    let api = crate::load(&path).unwrap_or_else(|e| panic!("api.yaml: {e}"));
    let l = lower(&api).unwrap();
    let form = |name: &str| l.call(name).unwrap().async_form;
    for name in [
        "opt_go",
        "opt_info",
        "opt_abort",
        "opt_list",
        "opt_list_meta_context",
        "opt_list_meta_context_queries",
        "opt_set_meta_context",
        "opt_set_meta_context_queries",
        "opt_starttls",
        "opt_structured_reply",
        "opt_extended_headers",
    ] {
        assert!(
            matches!(form(name), AsyncForm::Option { .. }),
            "{name}: {:?}",
            form(name)
        );
    }
    assert_eq!(form("opt_abort"), AsyncForm::Option { completion: false });
    assert_eq!(form("opt_list"), AsyncForm::Option { completion: true });
    for name in [
        "pread",
        "pwrite",
        "flush",
        "trim",
        "zero",
        "cache",
        "block_status_64",
    ] {
        assert_eq!(form(name), AsyncForm::Completion, "{name}");
    }
    assert_eq!(form("connect_uri"), AsyncForm::Connect);
    // Only the specials (handle life and the error getters, which read
    // thread-local state), the event-loop calls and shutdown are left
    // out, besides the aio calls.
    let omitted: Vec<&str> = l
        .calls
        .iter()
        .filter(|c| c.async_form == AsyncForm::Omitted && !c.name.starts_with("aio_"))
        .map(|c| c.name)
        .collect();
    assert_eq!(
        omitted,
        [
            "create",
            "close",
            "get_error",
            "get_errno",
            "shutdown",
            "connection_state",
            "poll",
            "poll2"
        ]
    );
}
