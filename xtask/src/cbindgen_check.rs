//! The C boundary checked from the Rust side: cbindgen reads the
//! `extern "C"` exports and `#[repr(C)]` callback structs of
//! `bindings/c` as rustc sees them and writes their C declarations; a C
//! file includes our generated `libnbd.h` and that output together and is
//! compiled with -Werror. A prototype in libnbd.h that disagrees with its
//! Rust function is then a "conflicting types" error, and a callback
//! struct whose layout or function type differs fails a static assertion
//! or an assignment between the two. This is independent of the
//! generator, which writes both the header and the Rust exports.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use crate::root;

/// The callback structs libnbd.h declares, as the Rust crate names them.
const CALLBACKS: &[&str] = &[
    "nbd_chunk_callback",
    "nbd_completion_callback",
    "nbd_debug_callback",
    "nbd_extent_callback",
    "nbd_extent64_callback",
    "nbd_list_callback",
    "nbd_context_callback",
];

/// cbindgen's C for the crate: the functions (callback structs taken to
/// be libnbd.h's) or the callback structs (renamed `rs_*`).
fn generate(functions: bool) -> Result<cbindgen::Bindings, String> {
    let mut config = cbindgen::Config {
        language: cbindgen::Language::C,
        no_includes: true,
        ..Default::default()
    };
    let mut rename: HashMap<String, String> = HashMap::new();
    // Types libnbd.h already has: the opaque handle, the 64-bit extent
    // and the socket types; cbindgen refers to them by these names.
    rename.insert("nbd_handle".into(), "struct nbd_handle".into());
    rename.insert("Extent".into(), "nbd_extent".into());
    rename.insert("sockaddr".into(), "struct sockaddr".into());
    config.export.exclude = vec!["nbd_handle".into()];
    if functions {
        config.export.item_types = vec![cbindgen::ItemType::Functions];
        config
            .export
            .exclude
            .extend(CALLBACKS.iter().map(|c| c.to_string()));
    } else {
        config.export.item_types = vec![cbindgen::ItemType::Structs];
        for cb in CALLBACKS {
            rename.insert((*cb).into(), format!("rs_{cb}"));
        }
    }
    config.export.rename = rename;
    cbindgen::Builder::new()
        .with_crate(root().join("bindings/c"))
        .with_config(config)
        .generate()
        .map_err(|e| format!("cbindgen: {e}"))
}

/// Write cbindgen's view of the exports and compile it against
/// libnbd.h. Ok(()) when they agree; Err with the compiler's complaint.
pub fn check(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let header = dir.join("exports-cbindgen.h");
    generate(true)?.write_to_file(&header);
    generate(false)?.write_to_file(dir.join("callbacks-cbindgen.h"));

    let mut probe = String::from(
        "/* libnbd.h against cbindgen's reading of the Rust exports. */\n\
         #include <stddef.h>\n#include <libnbd.h>\n#include \"exports-cbindgen.h\"\n\
         #include \"callbacks-cbindgen.h\"\n\n",
    );
    for cb in CALLBACKS {
        probe.push_str(&format!(
            "_Static_assert (sizeof (rs_{cb}) == sizeof ({cb}), \"{cb}: size\");\n\
             _Static_assert (offsetof (rs_{cb}, callback) == offsetof ({cb}, callback), \"{cb}: callback\");\n\
             _Static_assert (offsetof (rs_{cb}, user_data) == offsetof ({cb}, user_data), \"{cb}: user_data\");\n\
             _Static_assert (offsetof (rs_{cb}, free) == offsetof ({cb}, free), \"{cb}: free\");\n\
             void check_{cb} ({cb} c);\n\
             void check_{cb} ({cb} c) {{ rs_{cb} r; r.callback = c.callback; r.free = c.free; \
             r.user_data = c.user_data; (void) r; }}\n"
        ));
    }
    let probe_file = dir.join("check-cbindgen.c");
    std::fs::write(&probe_file, probe).map_err(|e| e.to_string())?;
    let out = Command::new("cc")
        .args([
            "-std=gnu11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            "-I",
        ])
        .arg(root().join("bindings/c/include"))
        .arg("-I")
        .arg(dir)
        .arg(&probe_file)
        .output()
        .map_err(|e| format!("cannot run cc: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "libnbd.h disagrees with the Rust exports as cbindgen reads them ({}):\n{}",
            header.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
