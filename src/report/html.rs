//! One self-contained HTML page per study folder (`report DIR --html` →
//! `report.html`) or evaluation (`evaluate … --html` → `evaluation.html`):
//! everything a reader needs in one file that opens offline in any browser.
//!
//! # Contents (a study)
//! 1. the claims of the spec's `[[expect]]` list with their verdicts;
//! 2. every figure of the folder, inline SVG (no external file, no script
//!    library, no font download);
//! 3. the summary (`summary.md`, rendered: metric definitions, every table);
//! 4. the specification (`spec.toml`, verbatim);
//! 5. provenance: version, spec hash, seed, replicates, units and status
//!    (`manifest.json`), and of the last run the git revision, the
//!    linear-algebra backend, threads and wall time (`run.json`).
//!
//! The markdown is rendered by `pulldown-cmark` (CommonMark with tables), a
//! maintained crate, instead of a second hand-written renderer of our own
//! tables: the page shows exactly the numbers of `summary.md`. A four-line
//! script counts the figures the browser laid out and writes the count into
//! `<body data-figures-rendered>`, which the headless-browser test reads
//! (`tests/browser/run.sh`).

use std::fmt::Write as _;
use std::path::Path;

use pulldown_cmark::{html::push_html, Options, Parser};

use crate::error::{Error, Result};
use crate::study::claims::ClaimOutcome;
use crate::study::record::Summary;

/// The study page's file name.
pub const REPORT_HTML: &str = "report.html";

/// The evaluation page's file name.
pub const EVALUATION_HTML: &str = "evaluation.html";

/// A named figure as SVG text.
pub struct Figure {
    /// File name (e.g. `eg_vs_rho.svg`), the caption.
    pub name: String,
    /// The SVG document.
    pub svg: String,
}

/// `text` escaped for HTML text and attributes (the JUnit report's XML
/// escape: `&`, `<`, `>`, `"`, `'` as entities, control characters dropped).
pub fn escape(text: &str) -> String {
    super::check::xml(text)
}

/// Markdown (with tables) as HTML.
fn markdown_html(text: &str) -> String {
    let mut out = String::new();
    push_html(&mut out, Parser::new_ext(text, Options::ENABLE_TABLES));
    out
}

/// The SVG figures of `dir`, by file name.
pub fn folder_figures(dir: &Path) -> Result<Vec<Figure>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
        .filter(|name| name.ends_with(".svg"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            let svg = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            Ok(Figure { name, svg })
        })
        .collect()
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;\
margin:0 auto;max-width:1200px;padding:1em 2em;color:#222;line-height:1.45}\
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #bbb}\
table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}\
th,td{border:1px solid #ccc;padding:0.25em 0.6em}th{background:#f2f2f2}\
td{font-variant-numeric:tabular-nums}tr:nth-child(even) td{background:#fafafa}\
pre{background:#f6f6f6;padding:0.8em;overflow-x:auto;font-size:0.85em}\
nav a{margin-right:1.2em}figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}\
figcaption{font-family:monospace;color:#555}.pass{color:#1a7f37;font-weight:bold}\
.fail{color:#c0392b;font-weight:bold}";

/// Counts the figures the browser laid out (non-zero size) into
/// `<body data-figures-rendered>`.
const SCRIPT: &str = "window.addEventListener('load',function(){var n=0;\
document.querySelectorAll('figure svg').forEach(function(s){var r=s.getBoundingClientRect();\
if(r.width>0&&r.height>0){n++;}});document.body.setAttribute('data-figures-rendered',n);});";

/// The page around `body`: title, style, the figure count script.
fn page(title: &str, figures: usize, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n<script>{SCRIPT}</script>\n</head>\n\
         <body data-figures=\"{figures}\" data-figures-rendered=\"0\">\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// The figures, each inline in a `<figure>` with its file name as caption.
fn figures_html(figures: &[Figure]) -> String {
    let mut out = String::new();
    for figure in figures {
        let svg = figure
            .svg
            .find("<svg")
            .map_or(figure.svg.as_str(), |start| &figure.svg[start..]);
        let _ = write!(
            out,
            "<figure id=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
            escape(&figure.name),
            svg,
            escape(&figure.name)
        );
    }
    out
}

/// The claims table with verdicts.
fn claims_html(claims: &[ClaimOutcome]) -> String {
    if claims.is_empty() {
        return "<p>The specification states no claims (<code>[[expect]]</code>).</p>\n".into();
    }
    let failed = claims.iter().filter(|c| !c.passed).count();
    let mut out = format!(
        "<p>{} of {} claim outcome(s) hold.</p>\n<table>\n<tr><th>#</th><th>claim</th>\
         <th>grid point</th><th>metric</th><th>value ± MCSE</th><th>verdict</th></tr>\n",
        claims.len() - failed,
        claims.len()
    );
    for c in claims {
        let grid: Vec<String> = c.grid.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let value = match (c.value, c.mcse) {
            (Some(v), Some(s)) => format!(
                "{} ± {}",
                super::format_significant(v, 4),
                super::format_significant(s, 2)
            ),
            (Some(v), None) => super::format_significant(v, 4),
            _ => c.problem.clone().unwrap_or_else(|| "—".into()),
        };
        let (class, verdict) = if c.passed {
            ("pass", "holds")
        } else {
            ("fail", "does not hold")
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>\
             <td class=\"{class}\">{verdict}</td></tr>",
            c.index + 1,
            escape(&c.statement),
            escape(&grid.join(", ")),
            escape(&c.metric),
            escape(&value)
        );
    }
    out.push_str("</table>\n");
    out
}

/// A two-column table of `(name, value)` facts.
fn facts_html(facts: &[(String, String)]) -> String {
    let mut out = String::from("<table>\n");
    for (name, value) in facts {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            escape(value)
        );
    }
    out.push_str("</table>\n");
    out
}

/// The provenance facts of a study folder: its manifest and the last run.
fn provenance(dir: &Path) -> Vec<(String, String)> {
    let mut facts = Vec::new();
    let read = |name: &str| -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(dir.join(name)).ok()?;
        serde_json::from_str(&text).ok()
    };
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    };
    if let Some(manifest) = read("manifest.json") {
        for key in [
            "study",
            "crate_version",
            "spec_hash",
            "seed",
            "replicates",
            "units",
            "status",
        ] {
            if let Some(v) = manifest.get(key) {
                facts.push((format!("{key} (manifest.json)"), show(v)));
            }
        }
    }
    if let Some(run) = read("run.json") {
        for key in [
            "git_revision",
            "backend",
            "threads",
            "units_run",
            "units_resumed",
            "seconds",
        ] {
            if let Some(v) = run.get(key) {
                facts.push((format!("{key} (run.json, the last run)"), show(v)));
            }
        }
    }
    facts.push((
        "page written by".into(),
        format!("meta-router {}", env!("CARGO_PKG_VERSION")),
    ));
    facts
}

/// The page of the study in `dir`: its summary, the claims of its spec
/// evaluated on it, its SVG figures, spec and provenance (module docs).
pub fn study_html(dir: &Path, summary: &Summary, claims: &[ClaimOutcome]) -> Result<String> {
    let figures = folder_figures(dir)?;
    let spec = std::fs::read_to_string(dir.join("spec.toml")).unwrap_or_default();
    let mut body = format!(
        "<h1>Study <code>{}</code></h1>\n<nav><a href=\"#claims\">Claims</a>\
         <a href=\"#figures\">Figures ({})</a><a href=\"#summary\">Summary tables</a>\
         <a href=\"#specification\">Specification</a><a href=\"#provenance\">Provenance</a></nav>\n",
        escape(&summary.study),
        figures.len()
    );
    body.push_str("<h2 id=\"claims\">Claims</h2>\n");
    body.push_str(&claims_html(claims));
    body.push_str("<h2 id=\"figures\">Figures</h2>\n");
    body.push_str(&figures_html(&figures));
    // `summary.md` brings its own title and metric definitions.
    body.push_str("<div id=\"summary\">\n");
    body.push_str(&markdown_html(&super::markdown(summary)));
    body.push_str("</div>\n");
    body.push_str("<h2 id=\"specification\">Specification (<code>spec.toml</code>)</h2>\n");
    let _ = writeln!(body, "<pre>{}</pre>", escape(&spec));
    body.push_str("<h2 id=\"provenance\">Provenance</h2>\n");
    body.push_str(&facts_html(&provenance(dir)));
    Ok(page(
        &format!("meta-router study {}", summary.study),
        figures.len(),
        &body,
    ))
}

/// The page of an evaluation: its markdown report (`evaluation.md` or
/// `comparison.md`) and its figures.
pub fn evaluation_html(title: &str, markdown: &str, figures: &[Figure]) -> String {
    let mut body = markdown_html(markdown);
    body.push_str("<h2 id=\"figures\">Figures</h2>\n");
    body.push_str(&figures_html(figures));
    body.push_str("<h2 id=\"provenance\">Provenance</h2>\n");
    body.push_str(&facts_html(&[(
        "page written by".into(),
        format!("meta-router {}", env!("CARGO_PKG_VERSION")),
    )]));
    page(title, figures.len(), &body)
}
