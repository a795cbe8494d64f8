//! Test cases from a data file: a `for_each` axis written `{ file: cases.jsonl }` takes its
//! values from the rows of a JSON Lines, CSV, JSON or YAML file (relative to the suite), each
//! row a mapping whose fields fill `{{case.question}}`, `{{case.answer}}`...
//!
//! Read at load time (the planner does no I/O) as text from outside: no further than
//! `files::MAX_INPUT` (JSON Lines and CSV a line at a time, so a large file is never held
//! whole), at most `MAX_ROWS` rows, every row a mapping of scalars (a nested value is kept as
//! its JSON text); an error names the file and its line. A row's own `id` (or `name`) names
//! its test, else its line.

use crate::load::de::DeError;
use crate::load::tree::{Key, Node, Span, Value};
use std::io::{BufRead, Read};
use std::path::Path;

/// The most rows a case file gives (as many as one test may expand to).
pub(crate) const MAX_ROWS: usize = 10_000;

/// The case files of a suite's tests, read: each `{ file: ... }` axis's rows by where the axis
/// is written (its span's offset).
pub(crate) type Cases = std::collections::BTreeMap<usize, Vec<Row>>;

/// One row: its fields, where it is written (`cases.jsonl:7`), and what names its test.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) node: Node,
    pub(crate) origin: String,
    pub(crate) label: String,
}

/// Reads the case files a test's `for_each` names (relative to `base`) into `cases`.
pub(crate) fn read_all(test: &Node, base: &Path, cases: &mut Cases, errors: &mut Vec<DeError>) {
    let Some(Value::Map(axes)) = test.get("for_each").map(|n| &n.value) else { return };
    for (_, axis) in axes {
        if matches!(axis.value, Value::Map(_)) {
            match read(axis, base) {
                Ok(rows) => {
                    cases.insert(axis.span.offset, rows);
                }
                Err(e) => errors.push(e),
            }
        }
    }
}

/// Each row's `question` and what a right answer says: its `reply` where the answer is said
/// in a form (`{"answer": "Rome"}`), else its `answer` — what the simulator answers with; rows
/// without both teach nothing.
pub(crate) fn teach(cases: &Cases, learn: &mut dyn FnMut(&str, &str)) {
    teach_rows(cases.values().flatten(), learn);
}

/// `teach`, from rows.
pub(crate) fn teach_rows<'a>(rows: impl IntoIterator<Item = &'a Row>, learn: &mut dyn FnMut(&str, &str)) {
    for row in rows {
        let field = |name: &str| row.node.get(name).and_then(Node::scalar_text);
        if let (Some(q), Some(a)) = (field("question"), field("reply").or_else(|| field("answer"))) {
            learn(&q, &a);
        }
    }
}

/// The rows of a case file named on the command line (`hxrun sim --answers FILE`).
pub(crate) fn read_path(path: &Path) -> Result<Vec<Row>, String> {
    rows_of(path, &path.display().to_string(), Span::default()).map_err(|e| e.message)
}

/// The rows of the file a `{ file: ... }` axis names (`spec`), relative to `base`.
fn read(spec: &Node, base: &Path) -> Result<Vec<Row>, DeError> {
    let at = spec.get("file").map_or(spec.span, |n| n.span);
    let err = |message: String| DeError { message, span: Some(at) };
    if let Value::Map(entries) = &spec.value
        && let Some((k, _)) = entries.iter().find(|(k, _)| k.name != "file")
    {
        return Err(DeError {
            message: format!("unknown field `{}` of a case file: it takes `file` only", k.name),
            span: Some(k.span),
        });
    }
    let Some(written) = spec.get("file").and_then(Node::as_str) else {
        return Err(err(
            "a case file is written `{ file: cases.jsonl }` (JSON Lines, CSV, JSON or YAML)".into()
        ));
    };
    rows_of(&base.join(written), written, at)
}

/// The rows of the case file at `path`, written `written` in the suite at `at` (where its rows'
/// errors point).
fn rows_of(path: &Path, written: &str, at: Span) -> Result<Vec<Row>, DeError> {
    let err = |message: String| DeError { message, span: Some(at) };
    let format = Format::of(written).ok_or_else(|| {
        err(format!(
            "`{written}`: a case file ends in .jsonl (or .ndjson), .csv, .json, .yaml or .yml, so its format is known"
        ))
    })?;
    let cannot = |e: std::io::Error| err(format!("cannot read the case file {}: {e}", path.display()));
    crate::files::check_input(path, "case file").map_err(cannot)?;
    let file = std::fs::File::open(path).map_err(cannot)?;
    // Read no further than the limit, even from a file that grows.
    let limited = file.take(crate::files::MAX_INPUT);
    let mut rows = Vec::new();
    let mut push = |fields: Vec<(String, Value)>, line: u64| -> Result<(), DeError> {
        if rows.len() >= MAX_ROWS {
            return Err(err(format!(
                "{written} has more than {MAX_ROWS} rows, more than one test may expand to: split it"
            )));
        }
        rows.push(row(fields, &format!("{written}:{line}"), at));
        Ok(())
    };
    match format {
        Format::JsonLines => {
            for (i, line) in std::io::BufReader::new(limited).lines().enumerate() {
                let line = line.map_err(cannot)?;
                let n = i as u64 + 1;
                if line.trim().is_empty() {
                    continue;
                }
                let value: serde_json::Value = serde_json::from_str(&line)
                    .map_err(|e| err(format!("{written}:{n}: not a JSON object: {e}")))?;
                push(object_fields(value, written, n).map_err(err)?, n)?;
            }
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(limited);
            let headers = reader
                .headers()
                .map_err(|e| err(format!("{written}: its header row cannot be read: {e}")))?
                .clone();
            for record in reader.records() {
                let record = record.map_err(|e| err(format!("{written}: {e}")))?;
                let line = record.position().map_or(0, |p| p.line());
                let fields = headers
                    .iter()
                    .zip(record.iter())
                    .map(|(h, v)| (h.to_string(), Value::Str(v.to_string())));
                push(fields.collect(), line)?;
            }
        }
        Format::Json | Format::Yaml => {
            // Whole, through the capped reader every suite input uses.
            drop(limited);
            let text = crate::files::read_to_string(path, "case file").map_err(cannot)?;
            let value: serde_json::Value = match format {
                Format::Json => serde_json::from_str(&text).map_err(|e| err(format!("{written}: {e}")))?,
                _ => crate::load::tree::parse(&text).map_err(|e| err(format!("{written}: {e}")))?.to_json(),
            };
            let serde_json::Value::Array(items) = value else {
                return Err(err(format!("{written}: a case file holds a list of cases, one mapping each")));
            };
            for (i, item) in items.into_iter().enumerate() {
                let n = i as u64 + 1;
                push(object_fields(item, written, n).map_err(err)?, n)?;
            }
        }
    }
    if rows.is_empty() {
        return Err(err(format!("{written} holds no case: the test would run zero times and pass unseen")));
    }
    Ok(rows)
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    JsonLines,
    Csv,
    Json,
    Yaml,
}

impl Format {
    fn of(name: &str) -> Option<Format> {
        let ext = Path::new(name).extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "jsonl" | "ndjson" => Format::JsonLines,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "yaml" | "yml" => Format::Yaml,
            _ => return None,
        })
    }
}

/// A row's fields: a JSON object's, each scalar as itself, a nested value as its JSON text.
fn object_fields(value: serde_json::Value, file: &str, n: u64) -> Result<Vec<(String, Value)>, String> {
    let serde_json::Value::Object(map) = value else {
        return Err(format!(
            "{file} case {n} is not a mapping of fields (`{{\"question\": ..., \"answer\": ...}}`)"
        ));
    };
    Ok(map
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => Value::Int(i),
                    None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                serde_json::Value::String(s) => Value::Str(s),
                nested => Value::Str(nested.to_string()),
            };
            (k, v)
        })
        .collect())
}

/// A row as a mapping node, placed where the suite names its file (the suite's errors point
/// there; the message names the row).
fn row(fields: Vec<(String, Value)>, origin: &str, at: Span) -> Row {
    let label = ["id", "name"]
        .iter()
        .find_map(|key| {
            fields.iter().find(|(k, _)| k == key).and_then(|(_, v)| match v {
                Value::Str(s) if !s.trim().is_empty() && s.len() <= 80 => Some(s.trim().to_string()),
                Value::Int(i) => Some(i.to_string()),
                _ => None,
            })
        })
        .unwrap_or_else(|| origin.to_string());
    let entries =
        fields.into_iter().map(|(name, value)| (Key { name, span: at }, Node::new(value, at))).collect();
    Row { node: Node::new(Value::Map(entries), at), origin: origin.to_string(), label }
}
