//! `hxrun bench`: runs each measurement of `crate::bench` in a child process of its own and
//! prints one table; with `--doc FILE`, writes it into FILE's generated block with the date
//! and the machine.

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
        parser_runs: args.parser_runs,
        loop_duration: args.loop_duration,
        ..Default::default()
    };
    if let Some(part) = &args.part {
        return match bench::run_part(part, opts) {
            Ok(rows) if part == "memory-once" => {
                println!("{}", rows[0].result);
                exit::PASSED
            }
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
    let parts: Vec<&str> = match &args.parts {
        Some(list) => list.split(',').map(str::trim).collect(),
        None => bench::PARTS.to_vec(),
    };
    if let Some(bad) = parts.iter().find(|p| !bench::PARTS.contains(p)) {
        eprintln!("error: unknown bench part \"{bad}\": expected some of {}", bench::PARTS.join(", "));
        return exit::INVALID;
    }
    let started = chrono::Utc::now();
    let heading = format!(
        "Measured {} on {} by `hxrun bench --rounds {} --duration {} --loop-duration {}` ({} build, hxrun {}).\n\n",
        started.format("%Y-%m-%d %H:%M UTC"),
        bench::machine(),
        args.rounds,
        humantime::format_duration(args.duration),
        humantime::format_duration(args.loop_duration),
        if cfg!(debug_assertions) { "debug" } else { "release" },
        env!("CARGO_PKG_VERSION"),
    );
    print!("{heading}{}", bench::TABLE_HEADER);
    let mut table = String::new();
    let mut code = exit::PASSED;
    for (i, part) in parts.into_iter().enumerate() {
        // The previous part's load fades from the 1-minute average before the next begins.
        if i > 0
            && !args.settle.is_zero()
            && let Some(load) = bench::settle(args.settle)
        {
            eprintln!("waited for the machine to settle before {part} (load {load:.2})");
        }
        let out = std::process::Command::new(&exe)
            .args(["bench", "--part", part, "--connections", &args.connections.to_string()])
            .args(["--streams", &args.streams.to_string(), "--rounds", &args.rounds.to_string()])
            .args(["--parser-runs", &args.parser_runs.to_string(), "--duration"])
            .arg(humantime::format_duration(args.duration).to_string())
            .arg("--loop-duration")
            .arg(humantime::format_duration(args.loop_duration).to_string())
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let rows = String::from_utf8_lossy(&o.stdout).into_owned();
                print!("{rows}");
                table.push_str(&rows);
            }
            Ok(o) => {
                let why = String::from_utf8_lossy(&o.stderr).trim().to_string();
                eprintln!("error: bench part {part} failed: {why}");
                table.push_str(&format!("| {part} | failed: {} | | **no** |\n", why.replace('|', "/")));
                code = exit::INTERNAL;
            }
            Err(e) => {
                eprintln!("error: cannot run bench part {part}: {e}");
                code = exit::INTERNAL;
            }
        }
    }
    if let Some(path) = &args.doc {
        let doc = std::fs::read_to_string(path).unwrap_or_default();
        let block = format!("{heading}{}{table}", bench::TABLE_HEADER);
        if let Err(e) = std::fs::write(path, bench::replace_block(&doc, &block)) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return exit::INTERNAL;
        }
        eprintln!("wrote the results into {}", path.display());
    }
    code
}
