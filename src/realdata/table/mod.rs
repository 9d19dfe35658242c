//! Reading GS, PB, query and test tables from CSV files with strict validation.
//!
//! A table is a CSV file with one header row and one row per query. Columns
//! play roles: **features** (selected by name list, by prefix, or "every
//! column without another role"), an optional **label**, optional **extra**
//! numeric columns (e.g. a true-ψ column of exported scenario data), and an
//! optional **id** column copied through as text. Other columns are ignored
//! only when the features are selected by name or prefix.
//!
//! Every cell of a used column is checked before anything is fitted; the
//! first problem is an [`meta_router_core::Error::Input`] naming the file, the one-based line
//! (the header is line 1) and the column: an empty cell, a value that is not
//! a number, NaN or ±∞, a row with more or fewer cells than the header (the
//! `csv` crate reports it), an empty or duplicated header name, a named
//! column that is missing, a label outside its declared range, a label with
//! one value only.
//!
//! Preference labels may be written as numbers or as the words `win`, `tie`,
//! `loss` (any case), read as `+1`, `0`, `−1`: the encoding of the
//! binary-preference scenario, where `E[y | q]` is the PB gain `η(q)`.
//!
//! The CSV grammar (quoting, CRLF line ends, a UTF-8 byte-order mark) is the
//! `csv` crate's; cells are trimmed of surrounding spaces.
//!
//! # Limits
//! Reading is bounded before anything grows without limit: a header or a row
//! longer than [`MAX_LINE_BYTES`] (16 MiB, line breaks inside quoted cells
//! included) is refused as soon as the reader passes the limit, never
//! buffered whole; a header with more than [`MAX_COLUMNS`] columns is
//! refused; the numbers read so far are checked against the memory limit
//! ([`crate::limits`]) as rows come in. A number whose magnitude exceeds
//! [`MAX_MAGNITUDE`] (its square and sums of squares would overflow) is
//! refused where it stands, as is a positive weight below
//! `1 / MAX_MAGNITUDE`. Messages quote at most
//! [`EXCERPT_CHARS`](crate::error::EXCERPT_CHARS) characters of a cell or a
//! header name.

mod bounded;
mod layout;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use ndarray::{Array1, Array2};

use crate::error::{excerpt, Error, Result};
use crate::limits::{memory_limit, render_bytes, Estimate};
use bounded::{BoundedReader, Progress, State};
use layout::Layout;

/// Longest header or data row a table may have, in bytes (quoted line
/// breaks included): 16 MiB, e.g. 400,000 numbers of 40 characters.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Most columns a table may have.
pub const MAX_COLUMNS: usize = 1_000_000;

pub use meta_router_core::checks::MAX_MAGNITUDE;

/// Which columns are features.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureSelection {
    /// Every column that has no other role (label, extra, id).
    Rest,
    /// These columns, in this order.
    Names(Vec<String>),
    /// Every column whose name starts with the prefix, in file order.
    Prefix(String),
}

impl FeatureSelection {
    /// Parses a command-line selection: empty = [`FeatureSelection::Rest`];
    /// `emb_*` = prefix `emb_`; `a,b,c` = those names.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(FeatureSelection::Rest);
        }
        if let Some(prefix) = text.strip_suffix('*') {
            if prefix.is_empty() || prefix.contains(',') || prefix.contains('*') {
                return Err(Error::param(
                    "features",
                    text,
                    "a prefix selection is one name prefix followed by `*`, e.g. `emb_*`",
                ));
            }
            return Ok(FeatureSelection::Prefix(prefix.to_string()));
        }
        let names: Vec<String> = text.split(',').map(|n| n.trim().to_string()).collect();
        if names.iter().any(|n| n.is_empty() || n.contains('*')) {
            return Err(Error::param(
                "features",
                text,
                "a name list is comma-separated names without empty entries or `*`",
            ));
        }
        Ok(FeatureSelection::Names(names))
    }
}

/// How a label column's cells are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    /// Numbers only.
    Numeric,
    /// Numbers, or `win` / `tie` / `loss` read as `+1` / `0` / `−1`.
    Preference,
}

/// A label column: its name, how it is read and its declared range.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelColumn {
    /// Header name.
    pub name: String,
    /// How cells are read.
    pub kind: LabelKind,
    /// Closed interval every label must lie in, if declared.
    pub range: Option<(f64, f64)>,
    /// Whether a label column with one value only is accepted (a test
    /// table; a training label must vary).
    pub constant_ok: bool,
    /// Whether an empty label cell means "no label for this row" (many
    /// models: a query labelled for some models only). Such a row is left
    /// out of the table, its other cells unread; otherwise an empty cell is
    /// an error.
    pub missing_ok: bool,
}

/// The roles of a table's columns.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRoles {
    /// Feature columns.
    pub features: FeatureSelection,
    /// The label column, if the table has one.
    pub label: Option<LabelColumn>,
    /// Further numeric columns to read (each must exist).
    pub extra: Vec<String>,
    /// Further numeric columns read when present.
    pub optional: Vec<String>,
    /// A text column copied through (e.g. a query id), if any.
    pub id: Option<String>,
    /// A column of sample weights (finite, `≥ 0`, not all zero), if any.
    pub weight: Option<String>,
    /// Columns that must exist but are neither read nor features (many
    /// models: the other models' label columns).
    pub ignore: Vec<String>,
}

/// A validated table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The file, as given.
    pub file: String,
    /// Feature column names, in the order of the columns of `x`.
    pub feature_names: Vec<String>,
    /// Features, one row per data row.
    pub x: Array2<f64>,
    /// Labels, when the roles name a label column.
    pub label: Option<Array1<f64>>,
    /// Extra and optional numeric columns that were read, by name.
    pub extra: BTreeMap<String, Array1<f64>>,
    /// The id column's text, when the roles name one.
    pub ids: Option<Vec<String>>,
    /// Sample weights, when the roles name a weight column.
    pub weights: Option<Array1<f64>>,
    /// The file's line of each row (one-based; the header is line 1).
    pub lines: Vec<u64>,
}

impl Table {
    /// Number of data rows.
    pub fn rows(&self) -> usize {
        self.x.nrows()
    }

    /// The label column; an [`meta_router_core::Error::Input`] naming the file when absent.
    pub fn labels(&self) -> Result<&Array1<f64>> {
        self.label.as_ref().ok_or_else(|| {
            Error::input(
                self.file.clone(),
                Some(1),
                None,
                "the table has no label column",
            )
        })
    }
}

fn input_error(file: &str, line: Option<u64>, column: Option<&str>, message: String) -> Error {
    Error::input(file.to_string(), line, column.map(str::to_string), message)
}

/// Reads and validates a table. Nothing is returned unless every used cell
/// is valid (module docs list the checks).
pub fn read_table(path: &Path, roles: &ColumnRoles) -> Result<Table> {
    let file = path.display().to_string();
    let reader = std::fs::File::open(path).map_err(|cause| Error::io(path, cause))?;
    read_table_from(reader, &file, roles)
}

/// [`read_table`] from any reader; `file` names it in errors.
pub fn read_table_from(reader: impl Read, file: &str, roles: &ColumnRoles) -> Result<Table> {
    let progress = Rc::new(RefCell::new(Progress {
        state: State::FieldStart,
        line: 1,
        record_line: 1,
        record_bytes: 0,
        too_long: None,
        offset: 0,
        previous_cr: false,
        starts: std::collections::VecDeque::from([(0, 1)]),
    }));
    let bounded = BoundedReader {
        inner: reader,
        progress: Rc::clone(&progress),
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bounded);
    let too_long = || progress.borrow().too_long;
    let read_error = |e: &csv::Error| match too_long() {
        Some(line) => input_error(
            file,
            Some(line),
            None,
            format!(
                "{} is longer than {} (the limit of a header or a row; is this a CSV table?)",
                if line == 1 { "the header" } else { "the row" },
                render_bytes(MAX_LINE_BYTES as f64)
            ),
        ),
        None => {
            let line = e
                .position()
                .and_then(|p| progress.borrow_mut().line_at(p.byte()));
            csv_error(file, e, line)
        }
    };
    let header = csv.headers().map_err(|e| read_error(&e))?.clone();
    let names = header_names(file, &header)?;
    let layout = Layout::new(file, &names, roles)?;
    let mut cells = Cells::new(layout.extra.len());
    let mut record = csv::StringRecord::new();
    // Memory of the numbers and ids read so far (twice their size: a
    // growing vector may hold twice its length), checked as rows come in.
    let budget = memory_limit();
    let cells_per_row = (layout.features.len() + layout.extra.len() + 3) as f64;
    loop {
        match csv.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(read_error(&e)),
        }
        let rows = cells.lines.len();
        let line = record.position().map_or(rows as u64 + 2, |p| {
            progress.borrow_mut().line_at(p.byte()).unwrap_or(p.line())
        });
        let bytes = 2.0 * ((rows + 1) as f64 * cells_per_row * 8.0 + cells.id_bytes);
        if bytes > budget {
            Estimate::new(
                bytes,
                0.0,
                format!("reading {} (line {line} so far)", excerpt(file)),
                format!("the size of {}", excerpt(file)),
            )
            .check_against(budget, f64::INFINITY)?;
        }
        let row = Row {
            file,
            line,
            record: &record,
            names: &names,
        };
        cells.push(&row, &layout, roles)?;
    }
    cells.check(file, roles)?;
    Ok(cells.into_table(file, &names, &layout, roles))
}

/// The header's column names; refuses an empty header or one with more than
/// [`MAX_COLUMNS`] columns.
fn header_names(file: &str, header: &csv::StringRecord) -> Result<Vec<String>> {
    if header.len() > MAX_COLUMNS {
        return Err(input_error(
            file,
            Some(1),
            None,
            format!(
                "the header has {} columns, more than the {MAX_COLUMNS} a table may have",
                header.len()
            ),
        ));
    }
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(input_error(
            file,
            Some(1),
            None,
            "no header row (the file is empty)".into(),
        ));
    }
    Ok(header.iter().map(str::to_string).collect())
}

/// One data row of a file: its line and cells, and the header's names.
struct Row<'a> {
    file: &'a str,
    line: u64,
    record: &'a csv::StringRecord,
    names: &'a [String],
}

impl Row<'_> {
    /// The number in column `index`, read as `kind`.
    fn number(&self, index: usize, kind: LabelKind) -> Result<f64> {
        parse_number(
            self.file,
            self.line,
            &self.names[index],
            &self.record[index],
            kind,
        )
    }

    /// An error on this row, in column `index`.
    fn error(&self, index: usize, message: String) -> Error {
        input_error(
            self.file,
            Some(self.line),
            Some(&self.names[index]),
            message,
        )
    }
}

/// The cells of the rows read so far, column by column.
struct Cells {
    features: Vec<f64>,
    labels: Vec<f64>,
    extra: Vec<Vec<f64>>,
    ids: Vec<String>,
    weights: Vec<f64>,
    /// The line of every row kept.
    lines: Vec<u64>,
    /// Memory of the ids read so far.
    id_bytes: f64,
}

impl Cells {
    fn new(extra: usize) -> Self {
        Self {
            features: Vec::new(),
            labels: Vec::new(),
            extra: vec![Vec::new(); extra],
            ids: Vec::new(),
            weights: Vec::new(),
            lines: Vec::new(),
            id_bytes: 0.0,
        }
    }

    /// Reads one data row: skipped when its label may be missing and is;
    /// else every role's cell, checked (label range, weight sign and size).
    fn push(&mut self, row: &Row, layout: &Layout, roles: &ColumnRoles) -> Result<()> {
        if let (Some(index), Some(label)) = (layout.label, roles.label.as_ref()) {
            if label.missing_ok && row.record[index].is_empty() {
                return Ok(());
            }
        }
        for &index in &layout.features {
            self.features.push(row.number(index, LabelKind::Numeric)?);
        }
        if let (Some(index), Some(label)) = (layout.label, roles.label.as_ref()) {
            let value = row.number(index, label.kind)?;
            if let Some((lo, hi)) = label.range {
                if !(lo..=hi).contains(&value) {
                    return Err(row.error(
                        index,
                        format!("label {value} is outside the declared range [{lo}, {hi}]"),
                    ));
                }
            }
            self.labels.push(value);
        }
        for (slot, &index) in self.extra.iter_mut().zip(&layout.extra) {
            slot.push(row.number(index, LabelKind::Numeric)?);
        }
        if let Some(index) = layout.id {
            self.id_bytes += (row.record[index].len() + 24) as f64;
            self.ids.push(row.record[index].to_string());
        }
        if let Some(index) = layout.weight {
            self.weights.push(weight(row, index)?);
        }
        self.lines.push(row.line);
        Ok(())
    }

    /// Refuses a table with no rows, one label value only (unless allowed)
    /// or every weight 0.
    fn check(&self, file: &str, roles: &ColumnRoles) -> Result<()> {
        if self.lines.is_empty() {
            let message = match roles.label.as_ref().filter(|l| l.missing_ok) {
                Some(label) => format!("no data row has a `{}` label", excerpt(&label.name)),
                None => "no data rows after the header".into(),
            };
            return Err(input_error(file, Some(1), None, message));
        }
        if let Some(label) = roles.label.as_ref().filter(|l| !l.constant_ok) {
            if self.labels.iter().all(|&v| v == self.labels[0]) {
                return Err(input_error(
                    file,
                    None,
                    Some(&label.name),
                    format!(
                        "every label equals {}: one value (class) only, nothing to learn from",
                        self.labels[0]
                    ),
                ));
            }
        }
        if let Some(name) = &roles.weight {
            if self.weights.iter().all(|&w| w == 0.0) {
                return Err(input_error(
                    file,
                    None,
                    Some(name),
                    "every weight is 0: no row would count".into(),
                ));
            }
        }
        Ok(())
    }

    /// The table of the cells read.
    fn into_table(
        self,
        file: &str,
        names: &[String],
        layout: &Layout,
        roles: &ColumnRoles,
    ) -> Table {
        let rows = self.lines.len();
        let x = Array2::from_shape_vec((rows, layout.features.len()), self.features)
            .expect("rows × features cells read");
        Table {
            file: file.to_string(),
            feature_names: layout.features.iter().map(|&i| names[i].clone()).collect(),
            x,
            label: roles.label.as_ref().map(|_| Array1::from(self.labels)),
            extra: layout
                .extra
                .iter()
                .map(|&i| names[i].clone())
                .zip(self.extra.into_iter().map(Array1::from))
                .collect(),
            ids: layout.id.map(|_| self.ids),
            weights: layout.weight.map(|_| Array1::from(self.weights)),
            lines: self.lines,
        }
    }
}

/// The sample weight in column `index`: finite, `≥ 0`, and either 0 or at
/// least `1 / MAX_MAGNITUDE`.
fn weight(row: &Row, index: usize) -> Result<f64> {
    let value = row.number(index, LabelKind::Numeric)?;
    if value < 0.0 {
        return Err(row.error(
            index,
            format!("weight {value} is negative (weights must be >= 0)"),
        ));
    }
    if value > 0.0 && value < 1.0 / MAX_MAGNITUDE {
        return Err(row.error(
            index,
            format!(
                "weight {value:e} is too small: a positive weight must be at least \
                 {:e} (write 0 for a row that should not count)",
                1.0 / MAX_MAGNITUDE
            ),
        ));
    }
    Ok(value)
}

/// One cell as a finite number (module docs).
fn parse_number(file: &str, line: u64, column: &str, text: &str, kind: LabelKind) -> Result<f64> {
    let error = |message: String| input_error(file, Some(line), Some(column), message);
    if text.is_empty() {
        return Err(error("empty cell".into()));
    }
    if kind == LabelKind::Preference {
        match text.to_ascii_lowercase().as_str() {
            "win" => return Ok(1.0),
            "tie" => return Ok(0.0),
            "loss" => return Ok(-1.0),
            _ => {}
        }
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= MAX_MAGNITUDE => Ok(v),
        Ok(v) if v.is_finite() => Err(error(format!(
            "`{}` is too large in magnitude: numbers must lie within ±{MAX_MAGNITUDE:e} (their \
             squares and sums must stay finite)",
            excerpt(text)
        ))),
        Ok(_) => Err(error(format!(
            "`{}` is not a finite number (NaN and infinities are not accepted)",
            excerpt(text)
        ))),
        Err(_) => Err(error(format!(
            "`{}` is not a number{}",
            excerpt(text),
            if kind == LabelKind::Preference {
                " (nor win / tie / loss)"
            } else {
                ""
            }
        ))),
    }
}

/// A `csv` crate error as an [`meta_router_core::Error::Input`] with its line.
fn csv_error(file: &str, error: &csv::Error, line: Option<u64>) -> Error {
    let line = line.or_else(|| error.position().map(|p| p.line()));
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} cells, the header {expected_len} (a ragged row)"),
        csv::ErrorKind::Utf8 { err, .. } => format!("not valid UTF-8 text ({err})"),
        csv::ErrorKind::Io(e) => format!("cannot be read: {e}"),
        _ => format!("not valid CSV: {error}"),
    };
    Error::input(file.to_string(), line, None, message)
}

/// A table as CSV text: header `names`, then one row per row of `columns`
/// (numbers in shortest round-trip form, so reading them back is exact; NaN
/// as an empty cell, a missing value).
pub fn table_text(names: &[String], columns: &[&[f64]]) -> String {
    let rows = columns.first().map_or(0, |c| c.len());
    let mut text = String::with_capacity(rows * names.len() * 20);
    text.push_str(&names.join(","));
    text.push('\n');
    for row in 0..rows {
        for (j, column) in columns.iter().enumerate() {
            if j > 0 {
                text.push(',');
            }
            // NaN marks a missing value (a label a query does not have).
            if !column[row].is_nan() {
                text.push_str(&format!("{}", column[row]));
            }
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles() -> ColumnRoles {
        ColumnRoles {
            features: FeatureSelection::Rest,
            label: Some(LabelColumn {
                name: "label".into(),
                kind: LabelKind::Preference,
                range: None,
                constant_ok: false,
                missing_ok: false,
            }),
            extra: vec![],
            optional: vec![],
            id: None,
            weight: None,
            ignore: Vec::new(),
        }
    }

    #[test]
    fn reads_features_labels_and_preference_words() {
        let text = "x1,label,x2\n1.5,win,2\n-3,tie,4e-1\n0,LOSS,1\n";
        let t = read_table_from(text.as_bytes(), "t.csv", &roles()).unwrap();
        assert_eq!(t.feature_names, vec!["x1", "x2"]);
        assert_eq!(t.x.row(1).to_vec(), vec![-3.0, 0.4]);
        assert_eq!(t.label.unwrap().to_vec(), vec![1.0, 0.0, -1.0]);
    }

    #[test]
    fn prefix_and_name_selection() {
        assert_eq!(
            FeatureSelection::parse("emb_*").unwrap(),
            FeatureSelection::Prefix("emb_".into())
        );
        assert_eq!(
            FeatureSelection::parse(" a, b ").unwrap(),
            FeatureSelection::Names(vec!["a".into(), "b".into()])
        );
        assert!(FeatureSelection::parse("a,,b").is_err());
        assert!(FeatureSelection::parse("*").is_err());
        let mut r = roles();
        r.features = FeatureSelection::Prefix("e".into());
        let t = read_table_from("id,e1,label,e2\nq,1,2,3\nr,4,5,6\n".as_bytes(), "t", &r).unwrap();
        assert_eq!(t.feature_names, vec!["e1", "e2"]);
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = read_table_from("x,label\n1,2\n3,nan\n".as_bytes(), "f.csv", &roles()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("f.csv, line 3, column `label`"), "{text}");
        let e = read_table_from("x,label\n1,2\n3\n".as_bytes(), "f.csv", &roles()).unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
    }

    #[test]
    fn lines_are_counted_for_every_line_break() {
        // `\r\n`, `\r` alone, a byte-order mark, an empty line, and a
        // quoted cell spanning two lines: the bad cell is on line 6.
        for text in [
            "\u{feff}x,label\r\n1,2\r\n\r\n\"3\r\n\",4\r\n5,bad\r\n",
            "x,label\r1,2\r\r\"3\r\",4\r5,bad\r",
            "x,label\n1,2\n\n\"3\n\",4\n5,bad\n",
        ] {
            let e = read_table_from(text.as_bytes(), "f.csv", &roles()).unwrap_err();
            assert!(
                e.to_string().contains("line 6, column `label`"),
                "{text:?}: {e}"
            );
        }
        let e = read_table_from("x,label\r\n1,2\r\n3\r\n".as_bytes(), "f.csv", &roles());
        assert!(e.unwrap_err().to_string().contains("line 3"));
    }

    #[test]
    fn overlong_lines_are_refused_while_read_and_quotes_are_short() {
        let mut text = String::from("x,label\n1,2\n");
        text.push_str(&"7".repeat(MAX_LINE_BYTES + 10));
        text.push_str(",3\n");
        let e = read_table_from(text.as_bytes(), "f.csv", &roles()).unwrap_err();
        assert!(e.to_string().contains("f.csv, line 3") && e.to_string().contains("16.0 MiB"));
        // A quoted cell may hold line breaks, but not past the limit.
        let mut text = String::from("x,label\n\"");
        text.push_str(&"\n".repeat(MAX_LINE_BYTES + 1));
        let e = read_table_from(text.as_bytes(), "f.csv", &roles()).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        // A long cell is quoted in at most 100 characters.
        let text = format!("x,label\n{},1\n", "a".repeat(5000));
        let e = read_table_from(text.as_bytes(), "f.csv", &roles()).unwrap_err();
        assert!(e.to_string().len() < 300, "{e}");
        // Huge and tiny magnitudes.
        let e = read_table_from("x,label\n1e101,2\n".as_bytes(), "f.csv", &roles());
        assert!(e.unwrap_err().to_string().contains("magnitude"));
    }

    #[test]
    fn a_wide_header_is_checked_in_linear_time() {
        let names: Vec<String> = (0..200_000).map(|i| format!("c{i}")).collect();
        let mut text = names.join(",");
        text.push_str(",c17\n");
        let e = read_table_from(text.as_bytes(), "f.csv", &roles()).unwrap_err();
        assert!(e.to_string().contains("column `c17`") && e.to_string().contains("twice"));
    }
}
