//! The layers hold inside each crate: no module uses a module of a higher
//! layer (the lists in the README and the crate docs). Cargo keeps the
//! estimator core (`crates/core`) from using the suite at all; within each
//! crate this test reads the source text: every `crate::<module>` path
//! outside comments in `<src>/<module>/…` or `<src>/<module>.rs`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// The estimator core's layers (`crates/core/src`), lowest first. Modules on
/// one line are one layer.
const CORE_LAYERS: &[&[&str]] = &[
    &["checks", "error", "limits", "numerics", "rng"],
    &["linalg"],
    &["learners"],
    &["data"],
    &["meta"],
    &["routing"],
    &["inference"],
    &["config_file", "router_file"],
];

/// The suite's layers (`src`), lowest first; the core's modules, re-exported
/// under their own names, are its lowest layer.
const SUITE_LAYERS: &[&[&str]] = &[
    &[
        "data",
        "inference",
        "learners",
        "limits",
        "linalg",
        "meta",
        "config_file",
        "rng",
        "router_file",
        "routing",
    ],
    &["alloc", "error", "files", "stats"],
    &["realdata"],
    &["dgp"],
    &["study"],
    &["report"],
];

fn layer(layers: &[&[&str]], module: &str) -> Option<usize> {
    layers.iter().position(|layer| layer.contains(&module))
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

/// The files of `src` (relative to the manifest) that use a higher layer of
/// `layers` than their own; also the number of files read. `lib.rs`,
/// `main.rs` and `cli/` (the binary, above every layer) are not read.
fn violations(src: &str, layers: &[&[&str]]) -> (Vec<String>, usize) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_str().unwrap().trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" || module == "cli" {
            continue;
        }
        let own = layer(layers, &module).unwrap_or_else(|| {
            panic!(
                "{module} in {} is in no layer: add it to the layers and the README",
                src.display()
            )
        });
        checked += 1;
        for used in used_modules(&fs::read_to_string(&file).unwrap()) {
            let other = layer(layers, &used)
                .unwrap_or_else(|| panic!("{}: unknown module crate::{used}", relative.display()));
            if other > own {
                violations.push(format!(
                    "{} ({module}) uses crate::{used}, a higher layer",
                    relative.display()
                ));
            }
        }
    }
    (violations, checked)
}

#[test]
fn no_module_uses_a_higher_layer() {
    for (src, layers, least) in [
        ("crates/core/src", CORE_LAYERS, 40),
        ("src", SUITE_LAYERS, 30),
    ] {
        let (violations, checked) = violations(src, layers);
        assert!(checked > least, "only {checked} files read in {src}");
        assert!(violations.is_empty(), "{}", violations.join("\n"));
    }
}

/// The core's manifest names none of the suite's dependencies: no plotting,
/// no command line, no tables, no progress bars (JSON and TOML it needs for
/// the router file and the router configuration).
#[test]
fn the_core_crate_depends_on_no_suite_crate() {
    let manifest =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/core/Cargo.toml"))
            .unwrap();
    let dependencies = manifest
        .split("[dev-dependencies]")
        .next()
        .unwrap()
        .to_string();
    for name in [
        "plotters",
        "clap",
        "indicatif",
        "anyhow",
        "csv",
        "image",
        "sha2",
    ] {
        assert!(
            !dependencies.contains(&format!("\n{name}")),
            "crates/core depends on {name}"
        );
    }
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
    assert!(layer(SUITE_LAYERS, "study") > layer(SUITE_LAYERS, "meta"));
    assert!(layer(CORE_LAYERS, "meta") > layer(CORE_LAYERS, "learners"));
}

/// Router files record `crate_version`, written by the core crate: the two
/// crates carry one version, so that field is the version of meta-router.
#[test]
fn the_core_and_the_suite_share_one_version() {
    let version = |path: &str| {
        let manifest =
            fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
        manifest
            .lines()
            .find_map(|l| l.strip_prefix("version = "))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap()
    };
    assert_eq!(version("Cargo.toml"), version("crates/core/Cargo.toml"));
    assert_eq!(version("Cargo.toml"), env!("CARGO_PKG_VERSION"));
}
