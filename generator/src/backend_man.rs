//! One roff man page per call (section 3) and an overview page.

use serde::Serialize;

use crate::backend_c::proto;
use crate::lower::{number_ret, LCall, LRet, Lowered};
use crate::markup::{self, Block, Span};
use crate::model::*;
use crate::render::rendered;
use crate::{Error, Lang, Output};

#[derive(Serialize)]
struct PageView {
    date: String,
    name: String,
    title: String,
    shortdesc: String,
    synopsis: Vec<String>,
    description: String,
    returns: String,
    errors: String,
    states: String,
    version: String,
    example: Option<String>,
    see_also: String,
}

#[derive(Serialize)]
struct GroupView {
    title: String,
    entries: Vec<(String, String)>,
}

#[derive(Serialize)]
struct OverviewView {
    date: String,
    groups: Vec<GroupView>,
}

/// Escape text for roff: backslashes, and a leading dot or quote.
fn escape(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// Inline text: code spans in bold, `nbd_foo(3)` references in bold.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for span in markup::spans(text) {
        match span {
            Span::Code(c) => out.push_str(&format!("\\fB{}\\fR", escape(c))),
            Span::Text(t) => out.push_str(&bold_refs(&escape(t))),
        }
    }
    out
}

fn bold_refs(t: &str) -> String {
    // Escaped text has `\-` for hyphens but underscores are untouched, so
    // references look the same as in the source.
    markup::map_call_refs(t, str::to_string, |name| format!("\\fBnbd_{name}\\fR(3)"))
}

/// Roff for a block of marked-up text. Every line starts a request or
/// plain text; sentences are not broken (mandoc lints new sentences).
fn roff(text: &str) -> String {
    let mut out = Vec::new();
    for (i, b) in markup::parse(text).into_iter().enumerate() {
        match b {
            Block::Para(p) => {
                if i > 0 {
                    out.push(".PP".to_string());
                }
                out.push(sentence_lines(&inline(&p)));
            }
            Block::Verbatim(lines) => {
                if i > 0 {
                    out.push(".PP".to_string());
                }
                out.push(".EX".to_string());
                for l in lines {
                    out.push(if l.is_empty() {
                        String::new()
                    } else {
                        escape(&l)
                    });
                }
                out.push(".EE".to_string());
            }
            Block::Bullets(items) => {
                for item in items {
                    out.push(".IP \\(bu 2".to_string());
                    out.push(sentence_lines(&inline(&item)));
                }
            }
        }
    }
    out.join("\n")
}

/// One sentence per line, as roff style wants.
fn sentence_lines(p: &str) -> String {
    let mut out = String::new();
    let mut start = 0;
    let bytes = p.as_bytes();
    for (i, c) in p.char_indices() {
        if matches!(c, '.' | '?' | '!')
            && bytes.get(i + 1) == Some(&b' ')
            && bytes.get(i + 2).is_some_and(|b| b.is_ascii_uppercase())
        {
            out.push_str(p[start..=i].trim());
            out.push('\n');
            start = i + 2;
        }
    }
    out.push_str(p[start..].trim());
    let lines: Vec<String> = out
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect();
    lines.join("\n")
}

fn default_returns(call: &LCall) -> String {
    match call.ret {
        LRet::Error => "0 on success, -1 on error.".into(),
        LRet::Bool => "1 for true, 0 for false, -1 on error.".into(),
        LRet::Cookie => "A cookie (>= 1) identifying the command, -1 on error.".into(),
        LRet::String => "A string the caller must free with free(3), or NULL on error.".into(),
        LRet::StaticString => "A string owned by the library; do not free it.".into(),
        number_ret!() | LRet::Enum(_) | LRet::Flags(_) | LRet::Void | LRet::Handle => {
            "The value described above, or -1 on error.".into()
        }
    }
}

fn errors_text(call: &Call) -> String {
    if !call.may_set_error {
        return "This function does not fail.".into();
    }
    let mut t = String::from(
        "On error, nbd_get_error(3) returns a message naming the cause and nbd_get_errno(3) an errno, \
         which may be 0 when none applies.",
    );
    if !call.permitted_states.is_empty() {
        t.push_str(
            " Calling it before the handle is connected fails with `ENOTCONN`, and in any other \
             state not listed under HANDLE STATE with `EINVAL`.",
        );
    }
    if call.checks_values() {
        t.push_str(" An unknown enum value or flag fails with `EINVAL`.");
    }
    t
}

fn states_text(call: &Call) -> String {
    if call.special.is_some() {
        return "This function does not take a handle state into account.".into();
    }
    if call.permitted_states.is_empty() {
        return "This function may be called in any handle state.".into();
    }
    let words: Vec<String> = State::ALL
        .iter()
        .map(|s| {
            let ok = call.permitted_states.contains(s);
            format!(
                "- {}: {}",
                s.as_str(),
                if ok { "permitted" } else { "error" }
            )
        })
        .collect();
    format!(
        "The handle must be in one of the permitted states:\n\n{}",
        words.join("\n")
    )
}

fn page(lcall: &LCall) -> PageView {
    let p = proto(lcall);
    let call = lcall.def;
    let mut synopsis = vec!["#include <libnbd.h>".to_string(), String::new()];
    let params: Vec<&str> = p.params.split(", ").collect();
    let head = format!(
        "{}{}{} (",
        p.ret,
        if p.ret.ends_with('*') { "" } else { " " },
        p.name
    );
    let indent = " ".repeat(head.len());
    for (i, param) in params.iter().enumerate() {
        let sep = if i + 1 == params.len() { ");" } else { "," };
        let prefix = if i == 0 { head.clone() } else { indent.clone() };
        synopsis.push(format!("{prefix}{param}{sep}"));
    }
    let mut see: Vec<String> = call
        .see_also
        .iter()
        .map(|s| format!("\\fBnbd_{s}\\fR(3)"))
        .collect();
    see.extend(call.see_also_external.iter().map(|s| {
        let (n, sec) = s.split_once('(').unwrap_or((s, "3)"));
        format!("\\fB{}\\fR({sec}", escape(n))
    }));
    see.push("\\fBlibnbd\\fR(3)".to_string());
    PageView {
        date: crate::MAN_DATE.to_string(),
        name: p.name.clone(),
        title: p.name.to_uppercase(),
        shortdesc: escape(&call.shortdesc),
        synopsis: synopsis.iter().map(|l| escape(l)).collect(),
        description: roff(&call.longdesc),
        returns: roff(call.returns.as_deref().unwrap_or(&default_returns(lcall))),
        errors: roff(&errors_text(call)),
        states: roff(&states_text(call)),
        version: if call.extension {
            format!(
                "This function is an extension of this library: libnbd does not have it. It was added beside the API of libnbd {}.",
                call.first_version
            )
        } else {
            format!(
                "This function first appeared in libnbd {}.",
                call.first_version
            )
        },
        example: call
            .example
            .as_ref()
            .map(|e| e.lines().map(escape).collect::<Vec<_>>().join("\n")),
        see_also: see.join(",\n"),
    }
}

fn group_title(g: Group) -> &'static str {
    match g {
        Group::Handle => "Handles",
        Group::Config => "Configuring the handle",
        Group::Tls => "TLS",
        Group::Connect => "Connecting",
        Group::Negotiate => "Negotiation (opt mode)",
        Group::Info => "Export information",
        Group::Data => "Data commands",
        Group::Aio => "Asynchronous commands",
        Group::AioControl => "Driving the asynchronous API",
        Group::Misc => "Miscellaneous",
    }
}

pub(crate) fn outputs(l: &Lowered) -> Result<Vec<Output>, Error> {
    let api = l.api;
    let mut out = Vec::new();
    for call in &l.calls {
        out.push(rendered(
            format!("docs/man/{}.3", call.c_name),
            Lang::Roff,
            "man/call.3.tera",
            &page(call),
        )?);
    }
    let order = [
        Group::Handle,
        Group::Config,
        Group::Tls,
        Group::Connect,
        Group::Negotiate,
        Group::Info,
        Group::Data,
        Group::Aio,
        Group::AioControl,
        Group::Misc,
    ];
    let groups = order
        .iter()
        .map(|g| {
            let mut entries: Vec<(String, String)> = api
                .calls
                .iter()
                .filter(|c| c.group == *g)
                .map(|c| (format!("nbd_{}", c.name), escape(&c.shortdesc)))
                .collect();
            entries.sort();
            GroupView {
                title: group_title(*g).to_string(),
                entries,
            }
        })
        .filter(|g| !g.entries.is_empty())
        .collect();
    out.push(rendered(
        "docs/man/libnbd.3",
        Lang::Roff,
        "man/overview.3.tera",
        &OverviewView {
            date: crate::MAN_DATE.to_string(),
            groups,
        },
    )?);
    out.push(rendered(
        "docs/man/nbdsh.1",
        Lang::Roff,
        "man/nbdsh.1.tera",
        &ShellView {
            date: crate::MAN_DATE.to_string(),
        },
    )?);
    Ok(out)
}

/// nbdsh(1): the page of the Python shell (bindings/python).
#[derive(Serialize)]
struct ShellView {
    date: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split() {
        assert_eq!(
            sentence_lines("One two. Three four."),
            "One two.\nThree four."
        );
        assert_eq!(sentence_lines("e.g. this"), "e.g. this");
    }

    #[test]
    fn escapes() {
        assert_eq!(escape(".x-y\\"), "\\&.x\\-y\\e");
        assert_eq!(
            inline("see nbd_pread(3) and `a-b`"),
            "see \\fBnbd_pread\\fR(3) and \\fBa\\-b\\fR"
        );
    }
}
