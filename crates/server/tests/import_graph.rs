//! The server's Architecture Invariant, checked: no import loop inside `crates/server` of more
//! than two files, and `write` (the one door to the writer) imports nothing above it.
//!
//! Every `crate::…` and `super::…` path in a module's non-test code is a dependency of that
//! module on the deepest module the path names. Loops are the strongly connected components
//! of that graph. A pair that uses each other is allowed where it is natural (`auth` ↔ `state`:
//! the state holds the token cache, the caller extractor reads the state).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Most files a loop may hold.
const MAX_LOOP: usize = 2;

type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The code before the first `#[cfg(test)]` (test modules may import anything).
fn production_part(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// The paths after `crate::`/`super::` in `text`, with `{a, b::c}` groups expanded one level.
fn paths(text: &str, me: &Module) -> Vec<Module> {
    let mut out = Vec::new();
    for (root, base) in [
        ("crate::", Vec::new()),
        ("super::", me[..me.len().saturating_sub(1)].to_vec()),
    ] {
        let mut rest = text;
        while let Some(i) = rest.find(root) {
            let before = rest[..i].chars().last();
            rest = &rest[i + root.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let mut segs = base.clone();
            segs.extend(
                rest[..end]
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            );
            if rest[end..].starts_with('{') {
                let close = rest[end..].find('}').map_or(rest.len(), |c| end + c);
                for item in rest[end + 1..close].split(',') {
                    let item = item.split_whitespace().next().unwrap_or("");
                    if item.is_empty() || item == "self" {
                        continue;
                    }
                    let mut s = segs.clone();
                    s.extend(item.split("::").map(String::from));
                    out.push(s);
                }
            }
            out.push(segs);
        }
    }
    out
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let texts: BTreeMap<Module, String> = files
        .iter()
        .map(|f| {
            (
                module_of(&src, f),
                std::fs::read_to_string(f).unwrap_or_default(),
            )
        })
        .collect();
    let resolve = |p: &Module| -> Option<Module> {
        (1..=p.len())
            .rev()
            .map(|n| p[..n].to_vec())
            .find(|m| texts.contains_key(m))
    };
    texts
        .iter()
        .map(|(m, text)| {
            let deps = paths(production_part(text), m)
                .iter()
                .filter_map(&resolve)
                .filter(|d| d != m && !d.is_empty())
                .collect();
            (m.clone(), deps)
        })
        .collect()
}

/// Strongly connected components (Tarjan), each as its modules.
fn loops(g: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct T<'a> {
        g: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on: BTreeSet<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a Module) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let Some((w, _)) = t.g.get_key_value(w) else {
                continue;
            };
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(lw));
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            t.out.push(comp);
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_import_loop_of_more_than_two_files() {
    let g = graph();
    assert!(g.len() > 20, "the server's modules were not found");
    let too_big: Vec<String> = loops(&g)
        .into_iter()
        .filter(|c| c.len() > MAX_LOOP)
        .map(|c| {
            c.iter()
                .map(|m| m.join("::"))
                .collect::<Vec<_>>()
                .join(" ↔ ")
        })
        .collect();
    assert!(
        too_big.is_empty(),
        "import loops of more than {MAX_LOOP} files: {too_big:#?}"
    );
}

#[test]
fn the_door_to_the_writer_imports_nothing_above_it() {
    let g = graph();
    let write = g.get(&vec!["write".to_string()]).expect("src/write.rs");
    let allowed = ["state", "problem", "auth", "settings", "metrics"];
    let above: Vec<String> = write
        .iter()
        .map(|m| m.join("::"))
        .filter(|m| !allowed.contains(&m.as_str()))
        .collect();
    assert!(above.is_empty(), "write imports {above:?}");
}

#[test]
fn the_checker_sees_a_loop() {
    // The checker itself: three modules in a ring are one loop of three.
    let m = |s: &str| vec![s.to_string()];
    let g: BTreeMap<Module, BTreeSet<Module>> = [
        (m("a"), [m("b")].into()),
        (m("b"), [m("c")].into()),
        (m("c"), [m("a")].into()),
        (m("d"), [m("a")].into()),
    ]
    .into();
    let big: Vec<_> = loops(&g).into_iter().filter(|c| c.len() > 1).collect();
    assert_eq!(big.len(), 1);
    assert_eq!(big[0].len(), 3);
    assert_eq!(
        paths("use crate::api::{date, x::y};", &m("z")),
        vec![
            vec!["api".to_string(), "date".into()],
            vec!["api".to_string(), "x".into(), "y".into()],
            vec!["api".to_string()],
        ]
    );
}
