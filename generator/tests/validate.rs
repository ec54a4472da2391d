//! Each kind of broken api.yaml is refused with a message naming the item,
//! the field and the problem, never a panic.

mod common;

/// Apply `edit` to the real api.yaml text and return the error message.
fn broken(edit: impl Fn(&str) -> String) -> String {
    let text = edit(&common::api_text());
    match generator::parse(&text) {
        Err(e) => e.to_string(),
        Ok(api) => match generator::validate::validate(&api) {
            Ok(()) => panic!("the broken description was accepted"),
            Err(errs) => errs
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        },
    }
}

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "fixture text `{from}` not found in api.yaml"
    );
    text.replacen(from, to, 1)
}

/// Replace the first `from` in api.yaml by `to` and check that the
/// description is refused with a message containing `expected`.
fn refused_with(from: &str, to: &str, expected: &str) {
    let msg = broken(|t| replace_once(t, from, to));
    assert!(msg.contains(expected), "{msg}");
}

/// Replace the first `from` at or after `anchor` (the start of an entry).
fn replace_after(text: &str, anchor: &str, from: &str, to: &str) -> String {
    let at = text
        .find(anchor)
        .unwrap_or_else(|| panic!("`{anchor}` not found in api.yaml"));
    let (head, tail) = text.split_at(at);
    format!("{head}{}", replace_once(tail, from, to))
}

#[test]
fn unknown_field_names_the_entry() {
    let msg = broken(|t| {
        replace_once(
            t,
            "  - name: pread\n",
            "  - name: pread\n    colour: blue\n",
        )
    });
    assert!(msg.contains("pread") && msg.contains("colour"), "{msg}");
}

#[test]
fn unknown_argument_kind() {
    refused_with(
        "{ name: offset, kind: uint64 }",
        "{ name: offset, kind: uint65 }",
        "unknown kind `uint65`",
    );
}

#[test]
fn argument_missing_its_length() {
    refused_with(
        "{ name: buf, kind: bytes_out, len: count }",
        "{ name: buf, kind: bytes_out }",
        "needs the key `len`",
    );
}

#[test]
fn argument_with_a_key_its_kind_does_not_take() {
    refused_with(
        "{ name: offset, kind: uint64 }",
        "{ name: offset, kind: uint64, len: x }",
        "does not take the key(s) len",
    );
}

#[test]
fn unknown_state() {
    refused_with(
        "permitted_states: [connected]",
        "permitted_states: [sleeping]",
        "sleeping",
    );
}

#[test]
fn see_also_must_resolve() {
    refused_with(
        "see_also: [aio_pread,",
        "see_also: [no_such_call, aio_pread,",
        "call pread: see_also: `no_such_call` is not a call",
    );
}

#[test]
fn doc_references_must_resolve() {
    refused_with(
        "Read `count` bytes",
        "See nbd_frobnicate(3). Read `count` bytes",
        "call pread: longdesc: refers to nbd_frobnicate(3)",
    );
}

#[test]
fn unknown_flag_set() {
    refused_with(
        "flags: cmd_flag, permitted: [REQ_ONE]",
        "flags: cmd_flags, permitted: [REQ_ONE]",
        "flag set `cmd_flags` is not defined",
    );
}

#[test]
fn permitted_flag_outside_its_set() {
    refused_with(
        "permitted: [REQ_ONE]",
        "permitted: [REQ_TWO]",
        "`REQ_TWO` is not a flag of `cmd_flag`",
    );
}

#[test]
fn default_outside_its_flag_set() {
    refused_with(
        "default: [FIXED_NEWSTYLE, NO_ZEROES]",
        "default: [FIXED_NEWSTYLE, NO_ONES]",
        "flags handshake_flag: default: `NO_ONES` is not a flag of this set",
    );
}

#[test]
fn flag_values_must_be_single_bits() {
    refused_with(
        "{ name: FUA, value: 0x01,",
        "{ name: FUA, value: 0x03,",
        "0x3 is not a single bit",
    );
}

#[test]
fn duplicate_call_names() {
    refused_with(
        "  - name: aio_pread\n",
        "  - name: pread\n",
        "call pread: name: defined more than once",
    );
}

#[test]
fn empty_docs() {
    refused_with(
        "shortdesc: read from the NBD server\n",
        "shortdesc: \"\"\n",
        "call pread: shortdesc: is empty",
    );
}

#[test]
fn bad_versions() {
    let msg = broken(|t| {
        replace_after(
            t,
            "  - name: pread\n",
            "first_version: \"1.0\"",
            "first_version: \"1.3\"",
        )
    });
    assert!(
        msg.contains("call pread: first_version: `1.3` is not a stable libnbd release"),
        "{msg}"
    );
    // The synchronous call and its aio twin disagree now.
    assert!(msg.contains("call aio_pread: first_version"), "{msg}");
}

#[test]
fn missing_version() {
    let msg = broken(|t| replace_after(t, "  - name: pread\n", "    first_version: \"1.0\"\n", ""));
    assert!(
        msg.contains("pread") && msg.contains("first_version"),
        "{msg}"
    );
}

#[test]
fn unknown_callback() {
    refused_with(
        "{ name: extent, kind: closure, callback: extent }",
        "{ name: extent, kind: closure, callback: extant }",
        "callback `extant` is not defined",
    );
}

#[test]
fn optional_argument_of_a_kind_that_cannot_be_optional() {
    refused_with(
        "{ name: flags, kind: flags, flags: cmd_flag, permitted: [REQ_ONE] }",
        "{ name: flags, kind: uint32 }",
        "cannot be optional",
    );
}

#[test]
fn yaml_syntax_errors_are_reported_not_panicked() {
    let msg = generator::parse("calls: [").unwrap_err().to_string();
    assert!(msg.starts_with("api.yaml:"), "{msg}");
}

#[test]
fn aio_twin_must_permit_the_same_flags() {
    let msg = broken(|t| {
        replace_after(
            t,
            "  - name: aio_trim\n",
            "permitted: [FUA]",
            "permitted: [FUA, NO_HOLE]",
        )
    });
    assert!(
        msg.contains("call aio_trim: optargs (permitted): [FUA, NO_HOLE] differs from [FUA] of its synchronous twin trim"),
        "{msg}"
    );
}

#[test]
fn argument_names_the_bindings_use_for_themselves() {
    refused_with(
        "{ name: offset, kind: uint64 }",
        "{ name: holder, kind: uint64 }",
        "callback chunk: args: `holder` clashes with a name the Node binding's generated code uses",
    );
    let msg = broken(|t| {
        replace_after(
            t,
            "\ncalls:",
            "{ name: offset, kind: uint64 }",
            "{ name: raised, kind: uint64 }",
        )
    });
    assert!(
        msg.contains("`raised` clashes with a name the Python binding's generated code uses"),
        "{msg}"
    );
}

#[test]
fn unknown_is_the_ocaml_bindings_constructor() {
    refused_with(
        "{ name: DISABLE,",
        "{ name: UNKNOWN,",
        "values.UNKNOWN: `UNKNOWN` is the OCaml binding's constructor",
    );
}
