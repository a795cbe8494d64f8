use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    keep_memory_flat();
    let cli = hxrun::cli::Cli::parse();
    ExitCode::from(hxrun::cli::main(cli))
}

/// glibc serves a block of 128 KiB or more with mmap and returns it on free — until the first
/// such free, after which it raises the threshold to that block's size and serves the next
/// ones from its arenas, which keep freed memory. A soak frees multi-MiB buffers (each window's
/// values) all night, so RSS crept up 4 MiB at a time (38 → 54 MiB in 16 minutes at 42k
/// requests/s). A fixed threshold keeps big blocks mmapped: the same soak stays at 30–34 MiB
/// (docs/perf.md, "Flat memory in a soak").
fn keep_memory_flat() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
