//! Router files across format versions: files of format 1 (written by the
//! code before format 2, `tests/data/router_v1/`) still read and predict bit
//! for bit as they did when written, also after being saved again as format
//! 2; `meta-router fit` writes format 2 with compact trees that `route`
//! reads back into the fitted router's exact predictions; and damaged
//! compact trees (bad base64, zlib, lengths, types, links, features,
//! non-finite numbers, a decompression bomb, mixed versions) are refused
//! with an error naming the file, the key and what is wrong, never a panic.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use meta_router::realdata::{self, model_file, multi, read_table, ColumnRoles};
use meta_router::realdata::{FeatureSelection, LabelColumn, LabelKind};
use meta_router::router_file;
use ndarray::Array2;
use serde_json::{json, Value};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/router_v1")
        .join(name)
}

/// A CSV file's header and rows (no quoting in these files).
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let split = |l: &str| l.split(',').map(str::to_string).collect::<Vec<_>>();
    let header = split(lines.next().unwrap());
    (header, lines.map(split).collect())
}

/// The column `name` of a CSV file, as numbers (shortest round-trip text
/// parses back to the exact bits).
fn column(path: &Path, name: &str) -> Vec<f64> {
    let (header, rows) = read_csv(path);
    let j = header.iter().position(|h| h == name).unwrap();
    rows.iter().map(|r| r[j].parse().unwrap()).collect()
}

/// The feature columns `features` of a CSV file, in that order.
fn queries(path: &Path, features: &[String]) -> Array2<f64> {
    let columns: Vec<Vec<f64>> = features.iter().map(|f| column(path, f)).collect();
    Array2::from_shape_fn((columns[0].len(), features.len()), |(i, j)| columns[j][i])
}

fn bits(values: impl IntoIterator<Item = f64>) -> Vec<u64> {
    values.into_iter().map(f64::to_bits).collect()
}

/// The fixtures' predictions were written with the pure-Rust linear
/// algebra: with it every router predicts them bit for bit. With the
/// OpenBLAS backend a linear model's products run through OpenBLAS, whose
/// summation order differs, so they agree to rounding (measured: 2 ulp);
/// trees never touch BLAS and stay exact there too.
fn as_written(name: &str, got: &[f64], written: &[f64]) {
    if cfg!(feature = "openblas") && name.starts_with("ridge") {
        assert_eq!(got.len(), written.len(), "{name}");
        for (a, b) in got.iter().zip(written) {
            assert!(
                (a - b).abs() <= 1e-13 * b.abs().max(1e-3),
                "{name}: {a} vs {b}"
            );
        }
    } else {
        assert_eq!(
            bits(got.iter().copied()),
            bits(written.iter().copied()),
            "{name}"
        );
    }
}

#[test]
fn format_1_routers_predict_as_when_they_were_written() {
    for name in ["forest-r", "boosting-dr-plugin", "ridge-dr"] {
        let (file, router) = model_file::load(&fixture(&format!("{name}.json"))).unwrap();
        assert_eq!(file.format_version, 1, "{name}");
        let x = queries(&fixture("queries.csv"), &file.features);
        let expected = fixture(&format!("{name}.route.csv"));
        let psi = router.predict_psi(x.view());
        let delta = router.predict_delta(x.view()).unwrap();
        as_written(name, psi.as_slice().unwrap(), &column(&expected, "psi_hat"));
        as_written(
            name,
            delta.as_slice().unwrap(),
            &column(&expected, "delta_hat"),
        );
        // Saved again: format 2, the same predictions.
        let text = file.to_json_checked(&router, &[x.view()]).unwrap();
        let (again, reloaded) = router_file::parse(&text, "again.json").unwrap();
        assert_eq!(again.format_version, router_file::FORMAT_VERSION);
        assert_eq!(bits(reloaded.predict_psi(x.view())), bits(psi), "{name}");
        assert_eq!(
            bits(reloaded.predict_delta(x.view()).unwrap()),
            bits(delta),
            "{name}"
        );
        assert_eq!(again.inference, file.inference);
        assert_eq!(again.diagnostics, file.diagnostics);
    }
}

#[test]
fn a_format_1_multi_model_file_predicts_as_when_written() {
    let loaded = multi::load_models(&fixture("multi-forest-r.json")).unwrap();
    assert_eq!(loaded.file.format_version, 1);
    assert_eq!(loaded.names(), ["reference", "balanced", "verbose"]);
    let x = queries(&fixture("multi-queries.csv"), &loaded.file.features);
    let psi = loaded.fitted.predict_psi(x.view()).unwrap();
    let expected = fixture("multi-forest-r.route.csv");
    for (k, name) in [(1, "balanced"), (2, "verbose")] {
        assert_eq!(
            bits(psi.column(k).iter().copied()),
            bits(column(&expected, &format!("psi_hat_{name}"))),
            "{name}"
        );
    }
}

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const FOREST: &str = "method = \"r-learner\"\nlearner = { type = \"forest\", trees = 5 }\n\
                      bias_learner = { type = \"forest\", trees = 4 }\n";

/// A folder with exported data (`gold.csv`, `pref.csv`, `test.csv`, three
/// features), `forest.toml` and `router.json` fitted from them by `fit`.
fn fitted_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let export = [
        "scenarios",
        "export",
        "healthbench-like",
        "--n-gold",
        "60",
        "--set",
        "d=3",
        "--set",
        "pool=300",
        "--set",
        "n_test=40",
        "--seed",
        "2",
        "--out",
        ".",
    ];
    assert_eq!(run(d, &export).0, 0);
    fs::write(d.join("forest.toml"), FOREST).unwrap();
    let fit = [
        "fit",
        "--gold",
        "gold.csv",
        "--pref",
        "pref.csv",
        "--config",
        "forest.toml",
        "--out",
        "router.json",
        "--seed",
        "4",
    ];
    let (code, stderr) = run(d, &fit);
    assert_eq!(code, 0, "{stderr}");
    dir
}

fn roles(kind: LabelKind) -> ColumnRoles {
    ColumnRoles {
        features: FeatureSelection::Rest,
        label: Some(LabelColumn {
            name: "label".into(),
            kind,
            range: None,
            constant_ok: false,
            missing_ok: false,
        }),
        extra: Vec::new(),
        optional: Vec::new(),
        id: None,
        weight: None,
        ignore: Vec::new(),
    }
}

#[test]
fn fit_writes_compact_trees_that_route_as_the_fitted_router() {
    let dir = fitted_folder();
    let d = dir.path();
    let text = fs::read_to_string(d.join("router.json")).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["format_version"], json!(2));
    let trees = &value["router"]["delta"]["forest"]["trees"];
    assert_eq!(trees["node_counts"]["type"], json!("u32"));
    assert_eq!(trees["node_counts"]["len"], json!(4));
    assert_eq!(trees["leaf_values"]["type"], json!("f64"));
    assert_eq!(trees["cut_counts"]["len"], json!(3));
    // The same fit in memory, and `route` on the file.
    let gold = read_table(&d.join("gold.csv"), &roles(LabelKind::Numeric)).unwrap();
    let pref = read_table(&d.join("pref.csv"), &roles(LabelKind::Preference)).unwrap();
    let config = meta_router::config_file::parse_router_config(FOREST, "forest.toml").unwrap();
    let (_, fitted) = realdata::fit_tables(&config, &gold, &pref, 4).unwrap();
    let route = [
        "route",
        "--model",
        "router.json",
        "--queries",
        "test.csv",
        "--cost-weight",
        "0",
        "--out",
        "route.csv",
    ];
    assert_eq!(run(d, &route).0, 0);
    let features: Vec<String> = (1..=3).map(|j| format!("x{j}")).collect();
    let x = queries(&d.join("test.csv"), &features);
    assert_eq!(
        bits(fitted.predict_psi(x.view())),
        bits(column(&d.join("route.csv"), "psi_hat"))
    );
    assert_eq!(
        bits(fitted.predict_delta(x.view()).unwrap()),
        bits(column(&d.join("route.csv"), "delta_hat"))
    );
}

/// A column of a router file: `bytes` as `element` entries, zlib and base64.
fn column_of(element: &str, width: usize, bytes: &[u8]) -> Value {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    let zlib = base64::engine::general_purpose::STANDARD.encode(encoder.finish().unwrap());
    json!({ "type": element, "len": bytes.len() / width, "zlib": zlib })
}

/// The little-endian bytes of a column of the file.
fn bytes_of(column: &Value) -> Vec<u8> {
    use std::io::Read;
    let zlib = base64::engine::general_purpose::STANDARD
        .decode(column["zlib"].as_str().unwrap())
        .unwrap();
    let mut bytes = Vec::new();
    flate2::read::ZlibDecoder::new(zlib.as_slice())
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

/// The entries of an unsigned column of the file.
fn ints_of(column: &Value) -> Vec<u32> {
    let bytes = bytes_of(column);
    match column["type"].as_str().unwrap() {
        "u8" => bytes.iter().map(|&b| b as u32).collect(),
        "u16" => bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) as u32)
            .collect(),
        _ => bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    }
}

fn column_of_u32(values: &[u32]) -> Value {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    column_of("u32", 4, &bytes)
}

/// The bias forest's block of columns in a router file.
const BLOCK: &str = "/router/delta/forest/trees";

type Damage = Box<dyn Fn(&mut Value)>;

#[test]
fn damaged_compact_trees_are_refused_naming_the_file_and_key() {
    let dir = fitted_folder();
    let d = dir.path();
    let good: Value =
        serde_json::from_str(&fs::read_to_string(d.join("router.json")).unwrap()).unwrap();
    let at = |name: &str| format!("{BLOCK}/{name}");
    let cases: Vec<(&str, Damage, Vec<&str>)> = vec![
        (
            "leaf values that are not base64",
            Box::new(move |v| {
                let zlib = v.pointer_mut(&at("leaf_values/zlib")).unwrap();
                let mut text = zlib.as_str().unwrap().to_string();
                text.replace_range(text.len() / 2..text.len() / 2 + 1, "%");
                *zlib = json!(text);
            }),
            vec!["`leaf_values`", "not valid base64"],
        ),
        (
            "a truncated column",
            Box::new(|v| {
                let zlib = v.pointer_mut(&format!("{BLOCK}/cuts/zlib")).unwrap();
                let text = zlib.as_str().unwrap().to_string();
                *zlib = json!(text[..text.len() / 8 * 4].to_string());
            }),
            vec!["`cuts`", "zlib"],
        ),
        (
            "a length that disagrees with the data",
            Box::new(|v| {
                let len = v.pointer_mut(&format!("{BLOCK}/children/len")).unwrap();
                *len = json!(len.as_u64().unwrap() + 1);
            }),
            vec!["`children` holds", "bytes, but its"],
        ),
        (
            "a length no data can hold",
            Box::new(|v| {
                *v.pointer_mut(&format!("{BLOCK}/leaf_values/len")).unwrap() =
                    json!(1_000_000_000_000u64)
            }),
            vec!["`leaf_values` declares 1000000000000 f64 entries"],
        ),
        (
            "a column of the wrong type",
            Box::new(|v| {
                *v.pointer_mut(&format!("{BLOCK}/node_counts/type")).unwrap() = json!("u16")
            }),
            vec!["`node_counts` has type u16, expected u32"],
        ),
        (
            "an unknown type",
            Box::new(|v| *v.pointer_mut(&format!("{BLOCK}/bins/type")).unwrap() = json!("i8")),
            vec![
                "router.delta.forest.trees.bins.type",
                "unknown variant `i8`",
            ],
        ),
        (
            "a column missing",
            Box::new(|v| {
                v.pointer_mut(BLOCK)
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove("bins");
            }),
            vec!["router.delta.forest.trees", "missing field `bins`"],
        ),
        (
            "a child outside its tree",
            Box::new(|v| {
                // The root's left child becomes the last node of tree 0, so
                // its right child is one past the end.
                let counts = ints_of(v.pointer(&format!("{BLOCK}/node_counts")).unwrap());
                let children = v.pointer_mut(&format!("{BLOCK}/children")).unwrap();
                let mut offsets = ints_of(children);
                offsets[0] = counts[0] - 1;
                *children = column_of_u32(&offsets);
            }),
            vec!["tree 0: tree node 0 links to node", "outside 1.."],
        ),
        (
            "a split on a feature the router does not have",
            Box::new(|v| {
                let features = v.pointer_mut(&format!("{BLOCK}/features")).unwrap();
                let mut bytes = bytes_of(features);
                bytes[0] = 7;
                *features = column_of("u8", 1, &bytes);
            }),
            vec!["a split on feature 7 of a model with 3 features"],
        ),
        (
            "a leaf value that is not a number",
            Box::new(|v| {
                let leaves = v.pointer_mut(&format!("{BLOCK}/leaf_values")).unwrap();
                let mut bytes = bytes_of(leaves);
                bytes[..8].copy_from_slice(&f64::NAN.to_le_bytes());
                *leaves = column_of("f64", 8, &bytes);
            }),
            vec!["`leaf_values` entry 0 is NaN"],
        ),
        (
            "a threshold that is infinite",
            Box::new(|v| {
                let cuts = v.pointer_mut(&format!("{BLOCK}/cuts")).unwrap();
                let mut bytes = bytes_of(cuts);
                bytes[..8].copy_from_slice(&f64::NEG_INFINITY.to_le_bytes());
                *cuts = column_of("f64", 8, &bytes);
            }),
            vec!["`cuts` entry 0 is -inf"],
        ),
    ];
    for (name, damage, needles) in cases {
        let mut value = good.clone();
        damage(&mut value);
        fs::write(d.join("damaged.json"), value.to_string()).unwrap();
        let route = [
            "route",
            "--model",
            "damaged.json",
            "--queries",
            "test.csv",
            "--cost-weight",
            "0",
            "--out",
            "damaged.csv",
        ];
        let (code, stderr) = run(d, &route);
        assert_eq!(code, 1, "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(stderr.contains("damaged.json"), "{name}: {stderr}");
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{name}: `{needle}` not in {stderr}"
            );
        }
        assert!(!d.join("damaged.csv").exists(), "{name}");
    }
}

#[test]
fn a_decompression_bomb_is_refused_before_it_is_inflated() {
    // 40 million zero bytes deflate to 40 KB; as the nodes of a forest they
    // would take gigabytes. The size check refuses them first.
    let dir = fitted_folder();
    let d = dir.path();
    let mut value: Value =
        serde_json::from_str(&fs::read_to_string(d.join("router.json")).unwrap()).unwrap();
    let block = value.pointer_mut(BLOCK).unwrap();
    block["children"] = column_of("u8", 1, &vec![0u8; 40_000_000]);
    fs::write(d.join("bomb.json"), value.to_string()).unwrap();
    assert!(fs::metadata(d.join("bomb.json")).unwrap().len() < 1_000_000);
    let route = [
        "route",
        "--model",
        "bomb.json",
        "--queries",
        "test.csv",
        "--cost-weight",
        "0",
        "--out",
        "bomb.csv",
        "--max-memory",
        "1G",
    ];
    let (code, stderr) = run(d, &route);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("decoding the trees of the router file bomb.json")
            && stderr.contains("exceeds the limit"),
        "{stderr}"
    );
}

#[test]
fn versions_are_not_mixed_and_unknown_versions_are_refused() {
    let dir = fitted_folder();
    let d = dir.path();
    let text = fs::read_to_string(d.join("router.json")).unwrap();
    // A format-1 file holding format-2 trees, and the reverse.
    let mixed = text.replacen("\"format_version\":2", "\"format_version\":1", 1);
    let e = router_file::parse(&mixed, "mixed.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mixed.json") && e.contains("router.psi.single.forest.trees"),
        "{e}"
    );
    let old = fs::read_to_string(fixture("forest-r.json")).unwrap();
    let mixed = old.replacen("\"format_version\":1", "\"format_version\":2", 1);
    let e = router_file::parse(&mixed, "mixed.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mixed.json") && e.contains("router.psi.single.forest.trees"),
        "{e}"
    );
    let future = text.replacen("\"format_version\":2", "\"format_version\":3", 1);
    let e = router_file::parse(&future, "future.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("format version 3") && e.contains("reads versions 1 and 2"),
        "{e}"
    );
    // A multi-model file of version 2 with a model of version 1.
    let multi_text = fs::read_to_string(fixture("multi-forest-r.json")).unwrap();
    let mut value: Value = serde_json::from_str(&multi_text).unwrap();
    value["format_version"] = json!(2);
    let e = multi::parse_models(&value.to_string(), "multi.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("multi.json")
            && e.contains("model `balanced` is a router file of format version 1"),
        "{e}"
    );
}

#[test]
fn forest_router_files_are_a_fraction_of_format_1() {
    // The fitted router's file (format 2) against its models alone in the
    // JSON numbers of format 1.
    let dir = fitted_folder();
    let d = dir.path();
    let (file, _) = model_file::load(&d.join("router.json")).unwrap();
    let compact = fs::metadata(d.join("router.json")).unwrap().len() as f64;
    let plain = serde_json::to_string(&file.router).unwrap().len() as f64;
    assert!(
        compact < plain / 3.0,
        "format 2: {compact} bytes, the models in format 1: {plain}"
    );
}
