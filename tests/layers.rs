//! The crate's layers hold: no module uses a module of a higher layer (the
//! list in the README and the crate docs). Read from the source text: every
//! `crate::<module>` path outside comments in `src/<module>/…` or
//! `src/<module>.rs`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Lowest first. Modules on one line are one layer.
const LAYERS: &[&[&str]] = &[
    &["alloc", "error", "files", "limits", "rng", "stats"],
    &["linalg"],
    &["learners"],
    &["data"],
    &["meta"],
    &["routing"],
    &["inference"],
    &["realdata"],
    &["dgp"],
    &["study"],
    &["report"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::x` modules a source text uses, outside `//` comments.
fn used_modules(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for line in text.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                used.insert(name);
            }
            rest = after;
        }
    }
    used
}

#[test]
fn no_module_uses_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_str().unwrap().trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" || module == "cli" {
            // The binary: above every layer.
            continue;
        }
        let own = layer(&module).unwrap_or_else(|| {
            panic!("src/{module} is in no layer: add it to LAYERS and the README")
        });
        checked += 1;
        for used in used_modules(&fs::read_to_string(&file).unwrap()) {
            let other = layer(&used)
                .unwrap_or_else(|| panic!("{}: unknown module crate::{used}", relative.display()));
            if other > own {
                violations.push(format!(
                    "{} ({module}) uses crate::{used}, a higher layer",
                    relative.display()
                ));
            }
        }
    }
    assert!(checked > 40, "only {checked} files read");
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_checker_sees_a_violation() {
    let used = used_modules(
        "use crate::study::spec; // crate::report in a comment\nlet x = crate::dgp::f();",
    );
    assert_eq!(
        used,
        BTreeSet::from(["study".to_string(), "dgp".to_string()])
    );
    assert!(layer("study") > layer("meta"));
}
