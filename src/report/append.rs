//! Appending rows to a CSV that other runs (or processes) append to as well.
//!
//! The file is locked exclusively, its header checked (written when the file is new or empty;
//! a file with another header is refused untouched), and all rows written in one call, so two
//! hxrun processes appending at once never tear a line or write a second header.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

/// Appends rows under an exclusive lock; writes the header to a new or empty file, refuses
/// a file whose header differs.
pub fn append(path: &Path, header: &str, rows: &str) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot append to {}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(fail)?;
    file.lock().map_err(fail)?;
    let result = (|| {
        let mut out = String::new();
        if file.metadata().map_err(fail)?.len() == 0 {
            out.push_str(header);
            out.push('\n');
        } else {
            let mut first = String::new();
            BufReader::new(&file).read_line(&mut first).map_err(fail)?;
            let first = first.trim_end_matches(['\n', '\r']);
            if first != header {
                return Err(format!(
                    "refusing to append to {}: its header is not the one hxrun writes there, so its \
                     columns would not line up.\n  found:    {first}\n  expected: {header}\nUse another file, \
                     or move this one aside",
                    path.display()
                ));
            }
        }
        out.push_str(rows);
        file.write_all(out.as_bytes()).map_err(fail)
    })();
    let _ = file.unlock();
    result
}
