//! Output files cannot be raced or redirected: two `fit` processes writing
//! one router file (exactly one wins without `--force`; with `--force` the
//! file is always one complete router), and symbolic links planted where
//! the commands write (never followed).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meta-router"))
}

/// A tiny table (x1, x2, label), so a fit takes milliseconds.
fn table(rows: usize, shift: f64) -> String {
    let mut text = String::from("x1,x2,label\n");
    for i in 0..rows {
        let x1 = (i as f64 * 0.41).sin();
        let x2 = i as f64 / rows as f64;
        text.push_str(&format!(
            "{x1},{x2},{}\n",
            0.4 * x1 - 0.2 * x2 + 0.1 * (i as f64 * 1.3).cos() - shift
        ));
    }
    text
}

fn setup(dir: &Path) {
    fs::write(dir.join("gold.csv"), table(16, 0.0)).unwrap();
    fs::write(dir.join("pref.csv"), table(40, 0.3)).unwrap();
    fs::write(
        dir.join("linear.toml"),
        "learner = { type = \"ridge\", basis = \"linear\" }\nfolds = 2\n",
    )
    .unwrap();
}

/// Starts a `fit` of seed `seed` into `out` (not waited for).
fn spawn_fit(dir: &Path, out: &str, seed: u64, force: bool) -> std::process::Child {
    let mut command = binary();
    command
        .args(["fit", "--gold", "gold.csv", "--pref", "pref.csv"])
        .args(["--config", "linear.toml", "--out", out])
        .args(["--seed", &seed.to_string()])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if force {
        command.arg("--force");
    }
    command.spawn().unwrap()
}

fn is_router(path: &Path) -> bool {
    fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v["format"] == "meta-router/router")
}

/// No temporary file of the atomic writes is left in `dir`.
fn no_temporaries(dir: &Path) -> bool {
    fs::read_dir(dir).unwrap().flatten().all(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        !(name.starts_with('.') && name.ends_with(".tmp"))
    })
}

#[test]
fn two_fits_into_one_router_file_never_both_win_and_never_tear_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    const ROUNDS: usize = 50;
    let mut single_winners = 0;
    for round in 0..ROUNDS {
        let _ = fs::remove_file(dir.join("race.json"));
        let a = spawn_fit(dir, "race.json", 1, false);
        let b = spawn_fit(dir, "race.json", 2, false);
        let (a, b): (Output, Output) =
            (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let wins = [&a, &b].iter().filter(|o| o.status.success()).count();
        assert_eq!(wins, 1, "round {round}: {wins} processes reported success");
        let loser = if a.status.success() { &b } else { &a };
        let message = String::from_utf8_lossy(&loser.stderr);
        assert!(
            message.contains("race.json exists; pass --force"),
            "round {round}: {message}"
        );
        assert!(is_router(&dir.join("race.json")), "round {round}");
        single_winners += 1;
    }
    assert_eq!(single_winners, ROUNDS);
    for round in 0..ROUNDS {
        let a = spawn_fit(dir, "race.json", 3, true);
        let b = spawn_fit(dir, "race.json", 4, true);
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for o in [&a, &b] {
            assert!(
                o.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        assert!(
            is_router(&dir.join("race.json")),
            "round {round}: torn file"
        );
    }
    assert!(no_temporaries(dir));
}

#[test]
fn planted_links_are_replaced_or_refused_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let victim = dir.join("victim");
    fs::write(&victim, "keep").unwrap();
    let run = |args: &[&str]| -> Output { binary().args(args).current_dir(dir).output().unwrap() };
    let fit = |out: &str, force: bool| {
        let mut args = vec![
            "fit",
            "--gold",
            "gold.csv",
            "--pref",
            "pref.csv",
            "--config",
            "linear.toml",
            "--out",
            out,
        ];
        if force {
            args.push("--force");
        }
        run(&args)
    };
    // The router file itself is a link: refused without --force; with it,
    // the link is replaced by the file.
    symlink(&victim, dir.join("r.json")).unwrap();
    let out = fit("r.json", false);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("r.json exists"));
    assert!(fit("r.json", true).status.success());
    assert!(!fs::symlink_metadata(dir.join("r.json"))
        .unwrap()
        .is_symlink());
    assert!(is_router(&dir.join("r.json")));
    // Earlier versions wrote through `<name>.tmp`: a link there is ignored.
    symlink(&victim, dir.join("s.json.tmp")).unwrap();
    assert!(fit("s.json", false).status.success());
    // A dangling link is an existing target too.
    symlink(dir.join("nowhere"), dir.join("t.json")).unwrap();
    assert!(!fit("t.json", false).status.success());
    assert!(!dir.join("nowhere").exists());
    // route --out onto a link.
    symlink(&victim, dir.join("routed.csv")).unwrap();
    let route = [
        "route",
        "--model",
        "r.json",
        "--queries",
        "gold.csv",
        "--cost-weight",
        "0.1",
        "--out",
        "routed.csv",
    ];
    assert!(!run(&route).status.success());
    let mut forced = route.to_vec();
    forced.push("--force");
    assert!(run(&forced).status.success());
    // evaluate: a figure of the output folder is a link.
    let test: String = table(40, 0.0);
    fs::write(dir.join("test.csv"), test).unwrap();
    fs::create_dir(dir.join("eval")).unwrap();
    symlink(&victim, dir.join("eval/neg_vs_rho.png")).unwrap();
    let evaluate = [
        "evaluate",
        "--model",
        "r.json",
        "--test",
        "test.csv",
        "--out",
        "eval",
        "--bootstrap",
        "20",
        "--force",
    ];
    let out = run(&evaluate);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // scenarios export --force: gold.csv is a link.
    fs::create_dir(dir.join("ex")).unwrap();
    symlink(&victim, dir.join("ex/gold.csv")).unwrap();
    let out = run(&[
        "scenarios",
        "export",
        "healthbench-like",
        "--set",
        "pool=300",
        "--set",
        "n_test=50",
        "--out",
        "ex",
        "--force",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A study folder's lock file and timings file are links.
    let spec = "name = \"s\"\nseed = 1\nreplicates = 1\n[scenario]\nname = \"healthbench-like\"\n\
                pool = 300\nn_test = 50\nd = 5\n[grid]\nn_gold = [40]\n[evaluation]\n\
                rho = [0.0, 1.0]\nw = [0.0]\n[[methods]]\nmethod = \"pooled\"\n\
                learner = { type = \"ridge\", basis = \"linear\" }\n";
    fs::write(dir.join("s.toml"), spec).unwrap();
    fs::create_dir(dir.join("study")).unwrap();
    symlink(&victim, dir.join("study/.meta-router.lock")).unwrap();
    let out = run(&["simulate", "s.toml", "--out", "study", "--quiet"]);
    assert!(
        !out.status.success(),
        "a lock file that is a link must be refused"
    );
    fs::remove_file(dir.join("study/.meta-router.lock")).unwrap();
    assert!(run(&["simulate", "s.toml", "--out", "study", "--quiet"])
        .status
        .success());
    symlink(&victim, dir.join("study/timings.jsonl.new")).unwrap();
    fs::rename(
        dir.join("study/timings.jsonl.new"),
        dir.join("study/timings.jsonl"),
    )
    .unwrap();
    let out = run(&[
        "simulate", "s.toml", "--out", "study", "--quiet", "--resume",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("timings.jsonl"));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
    for folder in [
        dir.to_path_buf(),
        dir.join("eval"),
        dir.join("ex"),
        dir.join("study"),
    ] {
        assert!(no_temporaries(&folder), "{}", folder.display());
    }
}
