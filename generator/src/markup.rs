//! The small text markup of `longdesc` and `returns` (see docs/api-yaml.md),
//! parsed once into blocks and printed per output format.

/// A block of documentation text.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A paragraph, its lines joined by spaces.
    Para(String),
    /// Verbatim lines (the two-space indent removed).
    Verbatim(Vec<String>),
    /// Bullet items, each a joined paragraph.
    Bullets(Vec<String>),
}

/// Split text into blocks.
pub fn parse(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut verb: Vec<String> = Vec::new();
    let mut bullets: Vec<String> = Vec::new();

    fn flush_para(para: &mut Vec<&str>, blocks: &mut Vec<Block>) {
        if !para.is_empty() {
            blocks.push(Block::Para(para.join(" ")));
            para.clear();
        }
    }
    fn flush_verb(verb: &mut Vec<String>, blocks: &mut Vec<Block>) {
        while verb.last().is_some_and(|l| l.trim().is_empty()) {
            verb.pop();
        }
        if !verb.is_empty() {
            blocks.push(Block::Verbatim(std::mem::take(verb)));
        }
    }
    fn flush_bullets(b: &mut Vec<String>, blocks: &mut Vec<Block>) {
        if !b.is_empty() {
            blocks.push(Block::Bullets(std::mem::take(b)));
        }
    }

    for line in text.lines() {
        // An indented line right after a bullet continues that bullet.
        if let (Some(last), true) = (bullets.last_mut(), verb.is_empty() && para.is_empty()) {
            if line.starts_with("  ") && !line.trim().is_empty() {
                last.push(' ');
                last.push_str(line.trim());
                continue;
            }
        }
        if let Some(v) = line.strip_prefix("  ") {
            flush_para(&mut para, &mut blocks);
            flush_bullets(&mut bullets, &mut blocks);
            verb.push(v.to_string());
        } else if line.trim().is_empty() {
            if !verb.is_empty() {
                verb.push(String::new());
                continue;
            }
            flush_para(&mut para, &mut blocks);
            flush_bullets(&mut bullets, &mut blocks);
        } else if let Some(item) = line.strip_prefix("- ") {
            flush_verb(&mut verb, &mut blocks);
            flush_para(&mut para, &mut blocks);
            bullets.push(item.trim().to_string());
        } else {
            flush_verb(&mut verb, &mut blocks);
            if let Some(last) = bullets.last_mut() {
                if para.is_empty() {
                    last.push(' ');
                    last.push_str(line.trim());
                    continue;
                }
            }
            para.push(line.trim());
        }
    }
    flush_verb(&mut verb, &mut blocks);
    flush_para(&mut para, &mut blocks);
    flush_bullets(&mut bullets, &mut blocks);
    blocks
}

/// Rewrite text around its `nbd_NAME(3)` references: `plain` maps the
/// text between references, `link` maps each referenced NAME. Every
/// backend's own way of linking calls goes through here.
pub fn map_call_refs(
    text: &str,
    mut plain: impl FnMut(&str) -> String,
    mut link: impl FnMut(&str) -> String,
) -> String {
    let mut out = String::new();
    let mut pending = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("nbd_") {
        let tail = &rest[i + 4..];
        let name: String = tail
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let word_start =
            i == 0 || !rest[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        pending.push_str(&rest[..i]);
        if word_start && !name.is_empty() && tail[name.len()..].starts_with("(3)") {
            out.push_str(&plain(&std::mem::take(&mut pending)));
            out.push_str(&link(&name));
            rest = &tail[name.len() + 3..];
        } else {
            pending.push_str("nbd_");
            rest = tail;
        }
    }
    pending.push_str(rest);
    out.push_str(&plain(&pending));
    out
}

/// The names of calls referenced as `nbd_NAME(3)` in text.
pub fn call_references(text: &str) -> Vec<String> {
    let mut refs = Vec::new();
    map_call_refs(
        text,
        |_| String::new(),
        |name| {
            refs.push(name.to_string());
            String::new()
        },
    );
    refs
}

/// Inline spans: backquoted code and plain text.
#[derive(Debug, Clone, PartialEq)]
pub enum Span<'a> {
    Text(&'a str),
    Code(&'a str),
}

/// Split a paragraph into text and `code` spans.
pub fn spans(text: &str) -> Vec<Span<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('`') {
        if let Some(j) = rest[i + 1..].find('`') {
            if i > 0 {
                out.push(Span::Text(&rest[..i]));
            }
            out.push(Span::Code(&rest[i + 1..i + 1 + j]));
            rest = &rest[i + 2 + j..];
        } else {
            break;
        }
    }
    if !rest.is_empty() {
        out.push(Span::Text(rest));
    }
    out
}

/// Plain text (for docstrings and comments): code keeps its backquotes
/// removed, paragraphs separated by blank lines, verbatim indented.
pub fn to_plain(text: &str) -> String {
    let mut out = Vec::new();
    for b in parse(text) {
        match b {
            Block::Para(p) => out.push(wrap(&strip_code(&p), 72)),
            Block::Verbatim(lines) => out.push(
                lines
                    .iter()
                    .map(|l| format!("    {l}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            Block::Bullets(items) => out.push(
                items
                    .iter()
                    .map(|i| wrap(&format!("- {}", strip_code(i)), 72).replace('\n', "\n  "))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        }
    }
    out.join("\n\n")
}

/// Markdown (rustdoc, JSDoc, odoc-ish): code spans kept, verbatim fenced.
pub fn to_markdown(text: &str, code_lang: &str) -> String {
    let mut out = Vec::new();
    for b in parse(text) {
        match b {
            Block::Para(p) => out.push(wrap(&p, 76)),
            Block::Verbatim(lines) => {
                out.push(format!("```{code_lang}\n{}\n```", lines.join("\n")))
            }
            Block::Bullets(items) => out.push(
                items
                    .iter()
                    .map(|i| wrap(&format!("- {i}"), 76).replace('\n', "\n  "))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        }
    }
    out.join("\n\n")
}

/// odoc markup for an OCaml documentation comment: code spans become
/// `[code]`, verbatim blocks `{v ... v}`, bullets `{ul {- ...}}`, and
/// `nbd_NAME(3)` references whatever `link(NAME)` returns (already odoc).
/// `code` may rewrite the text of a code span (C names to OCaml ones).
/// The result is safe inside `(** ... *)`: the OCaml lexer, which reads
/// comments for nested comments and string literals, sees neither.
pub fn to_odoc(text: &str, link: &dyn Fn(&str) -> String, code: &dyn Fn(&str) -> String) -> String {
    let inline = |p: &str| -> String {
        spans(p)
            .into_iter()
            .map(|s| match s {
                Span::Text(t) => odoc_text(t, link),
                Span::Code(c) => format!("[{}]", odoc_escape(&code(c), &['[', ']'])),
            })
            .collect()
    };
    let mut out = Vec::new();
    for b in parse(text) {
        match b {
            Block::Para(p) => out.push(wrap(&inline(&p), 72)),
            Block::Verbatim(lines) => out.push(format!(
                "{{v\n{}\nv}}",
                lines.join("\n").replace("v}", "v }")
            )),
            Block::Bullets(items) => {
                let items: Vec<String> = items
                    .iter()
                    .map(|i| wrap(&format!("{{- {}}}", inline(i)), 72).replace('\n', "\n  "))
                    .collect();
                out.push(format!("{{ul\n  {}}}", items.join("\n  ")))
            }
        }
    }
    ocaml_comment_safe(&out.join("\n\n"))
}

/// Plain text for odoc: markup characters escaped, `nbd_NAME(3)` linked.
fn odoc_text(t: &str, link: &dyn Fn(&str) -> String) -> String {
    const SPECIAL: &[char] = &['{', '}', '[', ']', '@'];
    map_call_refs(t, |s| odoc_escape(s, SPECIAL), link)
}

fn odoc_escape(t: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text that cannot end or nest an OCaml comment, nor open a quoted
/// string in it: `(*`, `*)` and `{|` get a space. Double quotes, which
/// open string literals inside comments, must pair up; an odd one is
/// doubled into the two-quote OCaml empty string, which the lexer skips.
pub fn ocaml_comment_safe(text: &str) -> String {
    let mut s = text
        .replace("(*", "( *")
        .replace("*)", "* )")
        .replace("{|", "{ |");
    if s.matches('"').count() % 2 == 1 {
        if let Some(i) = s.rfind('"') {
            s.insert(i, '"');
        }
    }
    s
}

fn strip_code(p: &str) -> String {
    spans(p)
        .into_iter()
        .map(|s| match s {
            Span::Text(t) | Span::Code(t) => t,
        })
        .collect()
}

/// Greedy word wrap.
pub fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks() {
        let b = parse("One\ntwo.\n\n  code\n  more\n\n- a\n  b\n- c\n\nEnd.");
        assert_eq!(b[0], Block::Para("One two.".into()));
        assert!(matches!(b[1], Block::Verbatim(_)));
        assert_eq!(b[2], Block::Bullets(vec!["a b".into(), "c".into()]));
        assert_eq!(b.last(), Some(&Block::Para("End.".into())));
    }

    #[test]
    fn references() {
        assert_eq!(
            call_references("see nbd_pread(3) and nbd_aio_pread(3), not libnbd_x(3) or nbd_foo"),
            vec!["pread".to_string(), "aio_pread".to_string()]
        );
    }

    #[test]
    fn code_spans() {
        assert_eq!(
            spans("a `b` c"),
            vec![Span::Text("a "), Span::Code("b"), Span::Text(" c")]
        );
    }

    #[test]
    fn odoc() {
        let link = |n: &str| format!("{{!{n}}}");
        let code = |c: &str| c.replace("LIBNBD_", "");
        let d = to_odoc("See nbd_pread(3), `LIBNBD_TLS_ALLOW` and a[0] {x}.\n\n  int (*f)(void);\n\n- one\n- two", &link, &code);
        assert_eq!(d, "See {!pread}, [TLS_ALLOW] and a\\[0\\] \\{x\\}.\n\n{v\nint ( *f)(void);\nv}\n\n{ul\n  {- one}\n  {- two}}");
        assert_eq!(
            ocaml_comment_safe("a \"b\" c\" (*x*)"),
            "a \"b\" c\"\" ( *x* )"
        );
    }
}
