//! Files from outside, read and written within bounds: an input is a regular file of at most
//! `MAX_INPUT` bytes (a device such as `/dev/zero` would be read forever, a FIFO with no writer
//! blocks forever); an output FIFO is opened without waiting for a reader. Each refusal says
//! what to give instead.

use std::io::Read;
use std::path::Path;

/// The most bytes hxrun reads of any suite, env file, certificate, baseline, schema or report.
pub(crate) const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// What a path is, in words, when it is not a regular file.
fn kind_of(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a folder")
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_char_device() || t.is_block_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    }
}

/// Why `path` cannot be read as `what`, if it cannot: it is not a regular file.
pub(crate) fn check_regular(path: &Path, what: &str) -> Result<std::fs::Metadata, std::io::Error> {
    let meta = std::fs::metadata(path)?;
    match kind_of(&meta) {
        Some(kind) => Err(std::io::Error::other(format!(
            "{} is {kind}, not a file: give the {what} as a regular file",
            path.display()
        ))),
        None => Ok(meta),
    }
}

/// Why `path` cannot be read as `what`, if it cannot: not a regular file, or too large.
pub(crate) fn check_input(path: &Path, what: &str) -> Result<(), std::io::Error> {
    if check_regular(path, what)?.len() > MAX_INPUT {
        return Err(too_large(path, what));
    }
    Ok(())
}

fn too_large(path: &Path, what: &str) -> std::io::Error {
    std::io::Error::other(format!(
        "{} is larger than {} MiB, more than any {what} needs: hxrun reads at most that much",
        path.display(),
        MAX_INPUT >> 20
    ))
}

/// The bytes of the regular file `path` (a `what`, named in errors), at most `MAX_INPUT`.
pub(crate) fn read(path: &Path, what: &str) -> Result<Vec<u8>, std::io::Error> {
    check_input(path, what)?;
    let mut bytes = Vec::new();
    // A file that grows after the check is still read no further than the limit.
    std::fs::File::open(path)?.take(MAX_INPUT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(too_large(path, what));
    }
    Ok(bytes)
}

/// `read`, as UTF-8 text.
pub(crate) fn read_to_string(path: &Path, what: &str) -> Result<String, std::io::Error> {
    String::from_utf8(read(path, what)?).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not UTF-8 text: {e}", path.display()),
        )
    })
}

/// Whether `path` names this process's standard output (a report written there must not be
/// mixed with the console's lines).
pub(crate) fn is_stdout(path: &Path) -> bool {
    ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"].iter().any(|s| Path::new(s) == path)
}

/// Opens `path` for writing with `options`; a FIFO is opened without waiting for a reader (a
/// FIFO nothing reads would block the open, and the run, forever) and then written normally.
pub(crate) fn open_output(path: &Path, options: &mut std::fs::OpenOptions) -> std::io::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    if !std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
        return options.open(path);
    }
    let file = options.custom_flags(libc::O_NONBLOCK).open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENXIO) {
            std::io::Error::other(format!(
                "{} is a FIFO (named pipe) that nothing reads: start its reader first, or give a file",
                path.display()
            ))
        } else {
            e
        }
    })?;
    // SAFETY: fcntl on a descriptor this function owns; only the O_NONBLOCK flag changes.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

/// Writes `bytes` to `path` (created or truncated) through `open_output`.
pub(crate) fn write(path: &Path, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = open_output(path, std::fs::OpenOptions::new().write(true).create(true).truncate(true))?;
    f.write_all(bytes.as_ref())?;
    f.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_folders_are_refused_with_what_to_give() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(Path::new("/dev/zero"), "suite").unwrap_err().to_string();
        assert!(err.contains("/dev/zero is a device, not a file: give the suite as a regular file"), "{err}");
        let err = read(dir.path(), "CA certificate").unwrap_err().to_string();
        assert!(err.contains("is a folder"), "{err}");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a path we own, with a NUL-terminated string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(read(&fifo, "suite").unwrap_err().to_string().contains("a FIFO (named pipe)"));
        let err = open_output(&fifo, std::fs::OpenOptions::new().write(true)).unwrap_err().to_string();
        assert!(err.contains("is a FIFO (named pipe) that nothing reads: start its reader first"), "{err}");
        let file = dir.path().join("f");
        std::fs::write(&file, "ok").unwrap();
        assert_eq!(read_to_string(&file, "suite").unwrap(), "ok");
    }

    #[test]
    fn a_file_past_the_limit_is_refused_without_being_read() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        // Sparse: takes no disk space.
        std::fs::File::create(&big).unwrap().set_len(MAX_INPUT + 1).unwrap();
        let err = read(&big, "baseline").unwrap_err().to_string();
        assert!(err.contains("larger than 64 MiB, more than any baseline needs"), "{err}");
    }
}
