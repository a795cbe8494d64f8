//! `hxrun validate` at scale: a generated suite of 5,000 written tests × a 2-model `for_each`
//! (10,000 tests, each with a `matches` regex and a JSONPath), validated by a child process
//! per round; its wall time and its own peak resident memory (from `wait4`, the kernel's
//! account of that one child).

use super::measure::{Load, Spread};
use super::{BenchOptions, Row};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The longest one `validate` may take.
const LIMIT: Duration = Duration::from_secs(120);

/// Written tests; each expands into two.
const WRITTEN: usize = 5000;

fn suite() -> String {
    let mut s = String::from("suite: big\ntarget: { url: \"http://127.0.0.1:9\" }\ntests:\n");
    for i in 0..WRITTEN {
        let _ = write!(
            s,
            "  - name: \"answer {i} from {{{{model}}}}\"\n    for_each: {{ model: [phi3, gemma2] }}\n    http:\n      path: /api/generate\n      json: {{ model: \"{{{{model}}}}\", prompt: \"Return exactly the text: HX-{i}\", stream: false }}\n    expect:\n      status: 200\n      json:\n        $.response: {{ matches: \"^HX-[0-9]+$\" }}\n        $.done: true\n"
        );
    }
    s
}

/// One `hxrun validate FILE`: its wall time and peak RSS in MiB.
fn once(exe: &std::path::Path, file: &std::path::Path) -> Result<(Duration, f64), String> {
    let started = Instant::now();
    let child = std::process::Command::new(exe)
        .arg("validate")
        .arg(file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run hxrun validate: {e}"))?;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to write into.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 (without blocking) reaps the child just spawned, which std's Child does
        // not wait for when dropped, and writes its status and resource use into the values given.
        let reaped =
            unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, libc::WNOHANG, &mut usage) };
        match reaped {
            0 if started.elapsed() < LIMIT => std::thread::sleep(Duration::from_millis(1)),
            0 => {
                let mut child = child;
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("hxrun validate did not end within {}s", LIMIT.as_secs()));
            }
            r if r < 0 => {
                return Err(format!("cannot wait for hxrun validate: {}", std::io::Error::last_os_error()));
            }
            _ => break,
        }
    }
    let wall = started.elapsed();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("hxrun validate failed on the generated suite (status {status})"));
    }
    Ok((wall, usage.ru_maxrss as f64 / 1024.0))
}

pub(super) fn validate(opts: &BenchOptions) -> Result<Vec<Row>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the hxrun binary: {e}"))?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = work.path().join("big.yaml");
    std::fs::write(&file, suite()).map_err(|e| e.to_string())?;
    let load = Load::now();
    let runs = (0..opts.rounds.max(1)).map(|_| once(&exe, &file)).collect::<Result<Vec<_>, _>>()?;
    let wall = Spread::of(&runs.iter().map(|r| r.0.as_secs_f64()).collect::<Vec<_>>()).ok_or("no rounds")?;
    let peak = Spread::of(&runs.iter().map(|r| r.1).collect::<Vec<_>>()).ok_or("no rounds")?;
    Ok(vec![Row {
        what: format!(
            "`hxrun validate` of {} tests ({WRITTEN} written × a 2-model for_each, each with a regex and a JSONPath), {} runs, each a fresh process; {}",
            WRITTEN * 2,
            runs.len(),
            load.text()
        ),
        result: format!(
            "wall {}; peak RSS {}; {}",
            wall.with_unit("s", 3),
            peak.with_unit("MiB", 1),
            load.verdict(&[])
        ),
        target: "< 0.5 s, < 100 MB".into(),
        met: Some(wall.median < 0.5 && peak.hi * 1.048_576 < 100.0),
    }])
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_generated_suite_is_ten_thousand_valid_tests() {
        let path = std::path::Path::new("big.yaml");
        let loaded = crate::load::load_str(path, super::suite(), &Default::default())
            .unwrap_or_else(|e| panic!("the generated suite loads: {e:?}"));
        let plan = crate::plan::plan_suite(&loaded, &Default::default())
            .unwrap_or_else(|e| panic!("the generated suite plans: {e:?}"));
        assert_eq!(plan.expanded, 2 * super::WRITTEN);
    }
}
