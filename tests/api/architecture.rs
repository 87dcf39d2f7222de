//! The shape of the code, checked from its imports: the top-level modules form no cycle, and
//! `slack/` is the only one that names slack-morphism. Read from the source files, so a new
//! import that bends an arrow fails here with the path it closes.
//!
//! Test code is left out (`#[cfg(test)]` modules, `*_tests.rs`, `*_snapshots.rs`): a test may
//! reach anywhere, for instance for the fake Slack's method reference.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The file's code without its test module.
fn non_test_code(path: &Path) -> Option<String> {
    let name = path.file_stem()?.to_str()?;
    if name.ends_with("_tests") || name.ends_with("_snapshots") {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    Some(match text.find("#[cfg(test)]\nmod ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    })
}

/// The top-level module a file belongs to (`src/slack/http.rs` → `slack`).
fn top_module(src: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_str().unwrap().trim_end_matches(".rs").to_owned()
}

/// Each top-level module and the top-level modules its code names through `crate::`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in rust_files(&src) {
        let module = top_module(&src, &path);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(code) = non_test_code(&path) else {
            continue;
        };
        let uses = graph.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                uses.insert(name);
            }
        }
    }
    graph
}

/// A cycle through `from`, if there is one, as the path that closes it.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        target: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        let last = path.last().unwrap().clone();
        for next in graph.get(&last).into_iter().flatten() {
            if next == target {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, target, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![from.to_owned()];
    walk(graph, from, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn the_top_level_modules_import_each_other_in_one_direction_only() {
    let graph = module_graph();
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle_from(&graph, m))
        .map(|path| path.join(" → "))
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles between top-level modules:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn only_the_slack_module_names_slack_morphism() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let outside: Vec<String> = rust_files(&src)
        .into_iter()
        .filter(|path| top_module(&src, path) != "slack")
        .filter(|path| {
            std::fs::read_to_string(path)
                .unwrap()
                .contains("slack_morphism::")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        outside.is_empty(),
        "slack-morphism named outside src/slack/: {outside:?}"
    );
}

/// SQL runs through sqlx everywhere but on the answer path's SQLite writer, which calls SQLite
/// directly from a thread of its own (see `src/store/sqlite_writer/mod.rs` for why): that
/// exception stays in that module's folder.
#[test]
fn only_the_sqlite_answer_writer_names_rusqlite() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let writer = src.join("store").join("sqlite_writer");
    let elsewhere: Vec<String> = rust_files(&src)
        .into_iter()
        .filter(|path| !path.starts_with(&writer))
        .filter(|path| std::fs::read_to_string(path).unwrap().contains("rusqlite"))
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        elsewhere.is_empty(),
        "rusqlite named outside src/store/sqlite_writer/: {elsewhere:?}"
    );
}

#[test]
fn the_core_never_imports_the_jobs_or_the_edges() {
    // slack/ → ops/ → store/ and the pure modules; schedule/ (the planner and the worker) →
    // ops/; never back.
    let graph = module_graph();
    let ops = graph.get("ops").cloned().unwrap_or_default();
    for edge in ["schedule", "slack", "sim", "app", "cli"] {
        assert!(!ops.contains(edge), "ops imports {edge}: {ops:?}");
    }
    for pure in ["survey", "privacy", "digest"] {
        let uses = graph.get(pure).cloned().unwrap_or_default();
        assert!(
            uses.iter()
                .all(|m| ["survey", "privacy", "digest"].contains(&m.as_str())),
            "{pure} is pure logic but imports {uses:?}"
        );
    }
}

#[test]
fn the_layers_below_slack_never_import_it() {
    let graph = module_graph();
    for module in ["survey", "privacy", "digest", "store", "ops", "schedule"] {
        let uses = graph.get(module).cloned().unwrap_or_default();
        assert!(
            !uses.contains("slack") && !uses.contains("app") && !uses.contains("cli"),
            "{module} imports {uses:?}"
        );
    }
}
