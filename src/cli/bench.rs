//! `hxrun bench`: runs each measurement of `crate::bench` in a child process of its own and
//! prints one table.

use super::BenchArgs;
use crate::bench;
use crate::exit;

/// `hxrun bench`: each measurement in a child process, one table.
pub(super) fn bench(args: &BenchArgs) -> u8 {
    let opts = &bench::BenchOptions {
        duration: args.duration,
        connections: args.connections,
        streams: args.streams,
        rounds: args.rounds,
        ..Default::default()
    };
    if let Some(part) = &args.part {
        return match bench::run_part(part, opts) {
            Ok(rows) => {
                print!("{}", bench::table_rows(&rows));
                exit::PASSED
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::INTERNAL
            }
        };
    }
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("error: cannot find the hxrun binary to run the measurements");
        return exit::INTERNAL;
    };
    print!("{}", bench::TABLE_HEADER);
    let mut code = exit::PASSED;
    for part in bench::PARTS {
        let out = std::process::Command::new(&exe)
            .args(["bench", "--part", part, "--connections", &args.connections.to_string()])
            .args([
                "--streams",
                &args.streams.to_string(),
                "--rounds",
                &args.rounds.to_string(),
                "--duration",
            ])
            .arg(humantime::format_duration(args.duration).to_string())
            .output();
        match out {
            Ok(o) if o.status.success() => print!("{}", String::from_utf8_lossy(&o.stdout)),
            Ok(o) => {
                eprintln!("error: bench part {part} failed: {}", String::from_utf8_lossy(&o.stderr).trim());
                code = exit::INTERNAL;
            }
            Err(e) => {
                eprintln!("error: cannot run bench part {part}: {e}");
                code = exit::INTERNAL;
            }
        }
    }
    code
}
