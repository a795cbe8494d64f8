//! Appending rows to a CSV that other runs (or processes) append to as well.
//!
//! The file is locked exclusively, its header checked (written when the file is new or empty;
//! a file with another header is refused untouched), and all rows written in one call, so two
//! hxrun processes appending at once never tear a line or write a second header. An append
//! is all or nothing: a failed write (a full disk) is cut back to where it started, and a
//! torn last row left by a run that died mid-write is removed before new rows go on.

use super::ReportError;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Appends rows under an exclusive lock; writes the header to a new or empty file, refuses
/// a file whose header differs.
pub(crate) fn append(path: &Path, header: &str, rows: &str) -> Result<(), ReportError> {
    append_with(path, &[header], &mut |w, _| w.write_all(rows.as_bytes()))
}

/// `append`, with the rows written by `rows` into a buffered writer (a perf loop of millions
/// of requests is never one string in memory). Under the lock, so still all or nothing.
///
/// `headers` are the headers hxrun accepts in an existing file, the first one written to a new
/// file; `rows` is told which one the file has (the perf CSV continues a file that has only the
/// seed's nine columns with rows of those nine).
pub(crate) fn append_with(
    path: &Path,
    headers: &[&str],
    rows: &mut dyn FnMut(&mut dyn Write, usize) -> std::io::Result<()>,
) -> Result<(), ReportError> {
    let header = headers[0];
    let fail = |source: std::io::Error| ReportError::Append { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let file = crate::files::open_output(path, OpenOptions::new().read(true).append(true).create(true))
        .map_err(fail)?;
    file.lock().map_err(fail)?;
    let result = (|| {
        let regular = file.metadata().map_err(fail)?.is_file();
        let len = if regular { complete_rows(&file).map_err(fail)? } else { 0 };
        let mut out = String::new();
        let mut which = 0;
        if len == 0 {
            out.push_str(header);
            out.push('\n');
        } else {
            let mut first = String::new();
            BufReader::new(&file).read_line(&mut first).map_err(fail)?;
            let first = first.trim_end_matches(['\n', '\r']);
            let Some(i) = headers.iter().position(|h| *h == first) else {
                return Err(ReportError::ForeignHeader {
                    path: path.to_path_buf(),
                    found: first.to_string(),
                    expected: headers.iter().map(|h| h.to_string()).collect(),
                });
            };
            which = i;
        }
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, &file);
        let written = w.write_all(out.as_bytes()).and_then(|()| rows(&mut w, which)).and_then(|()| w.flush());
        drop(w);
        written.map_err(|e| {
            // All or nothing: no half row for the next append to glue onto.
            if regular {
                let _ = file.set_len(len);
            }
            fail(e)
        })
    })();
    let _ = file.unlock();
    result
}

/// The length of the file's complete rows. A last row without its newline (a run that died
/// while writing) is cut off, and the cut said on stderr.
fn complete_rows(file: &File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    if last[0] == b'\n' {
        return Ok(len);
    }
    // Look back for the end of the last whole row.
    let mut end = len;
    let mut keep = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let piece = &mut buf[..(end - start) as usize];
        file.read_exact_at(piece, start)?;
        if let Some(i) = piece.iter().rposition(|&b| b == b'\n') {
            keep = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    file.set_len(keep)?;
    eprintln!(
        "hxrun: note: removed a torn last row ({} bytes without a line end, left by a run that stopped \
         while writing) before appending",
        len - keep
    );
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_row_is_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("perf.csv");
        std::fs::write(&path, "a,b\n1,2\n3,").unwrap();
        append(&path, "a,b", "5,6\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a,b\n1,2\n5,6\n");
        // A file holding only a torn header starts again with a whole one.
        std::fs::write(&path, "a,").unwrap();
        append(&path, "a,b", "7,8\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a,b\n7,8\n");
    }
}
