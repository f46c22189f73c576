//! The common crate's modules depend on one another without a circle: a test over the sources.
//! A module is a top-level file or folder of `src/`; it depends on another when its non-test,
//! non-comment code names `crate::<other>`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn rust_files(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("readable source folder") {
            rust_files(&entry.expect("a folder entry").path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

/// Each module's dependencies on its siblings.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: BTreeMap<String, Vec<std::path::PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src/") {
        let path = entry.expect("an entry").path();
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        if stem == "lib" {
            continue;
        }
        rust_files(&path, files.entry(stem.into_owned()).or_default());
    }
    let mut graph = BTreeMap::new();
    for (module, paths) in &files {
        let mut deps = BTreeSet::new();
        for path in paths {
            if path
                .file_stem()
                .is_some_and(|s| s.to_string_lossy().ends_with("tests"))
            {
                continue;
            }
            let text = std::fs::read_to_string(path).expect("a readable source");
            let code = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap_or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for name in line.split("crate::").skip(1) {
                    let dep: String = name
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if dep != *module && files.contains_key(&dep) {
                        deps.insert(dep);
                    }
                }
            }
        }
        graph.insert(module.clone(), deps);
    }
    graph
}

/// A path that leads from `start` back to itself, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().expect("never empty");
        for next in graph.get(last).into_iter().flatten() {
            if next == start {
                let mut found = path.clone();
                found.push(next.clone());
                return Some(found);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let graph = graph();
    assert!(graph.len() > 10, "the modules were found: {graph:?}");
    assert!(graph["store"].contains("record"), "dependencies were found");
    let circles: Vec<String> = graph
        .keys()
        .filter_map(|m| circle(&graph, m))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}

#[test]
fn a_circle_is_found() {
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
        ("d".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(circle(&graph, "a").unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(circle(&graph, "d"), None);
}
