//! A child process and its descendants, as the kernel sees them: resident memory and CPU time
//! from /proc (Linux), sampled while it runs.

use super::measure::children_cpu;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Each process in the tree of `pid` (it and its descendants), from /proc (Linux): its pid,
/// resident memory in MiB, and CPU time (user + system) so far.
pub(crate) fn tree(pid: u32) -> Vec<(u32, f64, Duration)> {
    // SAFETY: sysconf only reads a configuration value.
    let (page, ticks) =
        unsafe { (libc::sysconf(libc::_SC_PAGESIZE) as f64, libc::sysconf(libc::_SC_CLK_TCK) as f64) };
    let mut procs = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "pid (comm) state ppid ... utime stime ... rss": comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok());
        let (Some(ppid), Some(utime), Some(stime), Some(rss)) = (num(1), num(11), num(12), num(21)) else {
            continue;
        };
        procs.push((
            p,
            ppid as u32,
            rss * page / 1024.0 / 1024.0,
            Duration::from_secs_f64((utime + stime) / ticks),
        ));
    }
    let mut members = vec![pid];
    let mut i = 0;
    while i < members.len() {
        let parent = members[i];
        members.extend(procs.iter().filter(|q| q.1 == parent).map(|q| q.0));
        i += 1;
    }
    procs.into_iter().filter(|q| members.contains(&q.0)).map(|(p, _, rss, cpu)| (p, rss, cpu)).collect()
}

/// What one run of a tool cost: CPU of its whole tree (from the kernel's accounting of ended
/// children), and the peak of its tree's resident memory.
pub(crate) struct Cost {
    pub(crate) cpu: Duration,
    pub(crate) peak_mib: f64,
    /// The tree's resident memory, MiB, every 50 ms.
    pub(crate) rss: Vec<f64>,
}

/// Runs `cmd` to its end (at most `limit`), its output in `log`, sampling its tree's memory.
pub(crate) fn run_tree(mut cmd: Command, log: &Path, limit: Duration) -> Result<Cost, String> {
    let out = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let before = children_cpu();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let started = Instant::now();
    let mut rss = Vec::new();
    // The last CPU time seen of every process of the tree: a worker that ends without being
    // waited for by its parent is missing from the kernel's accounting of ended children.
    let mut seen: std::collections::HashMap<u32, Duration> = std::collections::HashMap::new();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {}s; its log: {}", limit.as_secs(), log.display()));
        }
        let now = tree(child.id());
        rss.push(now.iter().map(|t| t.1).sum::<f64>());
        for (p, _, cpu) in now {
            seen.insert(p, cpu);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        return Err(format!("{status}: {}", tail.into_iter().rev().collect::<Vec<_>>().join(" / ")));
    }
    // The waited-for tree as the kernel counted it, or what was seen of it, whichever is more.
    let sampled: Duration = seen.values().sum();
    let peak_mib = rss.iter().copied().fold(0.0, f64::max);
    Ok(Cost { cpu: children_cpu().saturating_sub(before).max(sampled), peak_mib, rss })
}

/// Whether a program is on the PATH (it starts at all).
pub(crate) fn installed(program: &str, version_arg: &str) -> bool {
    Command::new(program)
        .arg(version_arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_in_its_own_tree_with_memory_and_cpu() {
        let me = tree(std::process::id());
        let mine = me.iter().find(|p| p.0 == std::process::id()).expect("this process");
        assert!(mine.1 > 0.0, "resident memory: {mine:?}");
        let child = Command::new("sleep").arg("5").spawn().unwrap();
        let with_child = tree(std::process::id());
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        assert!(with_child.iter().any(|p| p.0 == child.id()), "the child is in the tree");
    }
}
