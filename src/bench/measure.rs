//! How the bench measures: rounds that interleave the contenders (the order rotated each
//! round), the median and range of what they gave, CPU clocks, memory, and the machine's load,
//! which together say whether a figure can be trusted.

use std::time::Duration;

/// The median and range of a figure over rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spread {
    pub(crate) median: f64,
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) n: usize,
}

/// Rounds more than this far apart (highest over lowest) make a figure untrustworthy.
const WIDE: f64 = 1.3;

impl Spread {
    /// None without a finite value: the median, lowest and highest of the project's own
    /// statistics (`perf::stats`, numpy's conventions).
    pub(crate) fn of(values: &[f64]) -> Option<Spread> {
        crate::perf::stats::Stats::of(values).map(|s| Spread {
            median: s.p50,
            lo: s.min,
            hi: s.max,
            n: s.count,
        })
    }

    /// `1.00× (0.82–1.27)`.
    pub(crate) fn ratio(&self) -> String {
        format!("{:.2}× ({:.2}–{:.2})", self.median, self.lo, self.hi)
    }

    /// `0.560 µs (0.550–0.600)` with `decimals` digits.
    pub(crate) fn with_unit(&self, unit: &str, decimals: usize) -> String {
        format!("{:.d$} {unit} ({:.d$}–{:.d$})", self.median, self.lo, self.hi, d = decimals)
    }

    /// How far apart the rounds are (highest over lowest), when that is too far to trust.
    pub(crate) fn too_wide(&self) -> Option<f64> {
        let ratio = if self.lo > 0.0 { self.hi / self.lo } else { f64::INFINITY };
        (self.n > 1 && ratio > WIDE).then_some(ratio)
    }
}

/// Runs `rounds` rounds of every contender, the order rotated each round (A B C, B C A, C A B,
/// ...), so a change in background load touches each alike; what each gave, by contender then
/// round.
pub(crate) fn interleave<T>(
    rounds: u32,
    contenders: &mut [&mut dyn FnMut() -> Result<T, String>],
) -> Result<Vec<Vec<T>>, String> {
    let k = contenders.len();
    let mut out: Vec<Vec<T>> = (0..k).map(|_| Vec::new()).collect();
    for round in 0..rounds.max(1) as usize {
        for i in 0..k {
            let who = (round + i) % k;
            out[who].push((contenders[who])()?);
        }
    }
    Ok(out)
}

/// The machine's load when a part began, to judge its figures by.
pub(crate) struct Load {
    before: f64,
    cores: usize,
}

impl Load {
    pub(crate) fn now() -> Load {
        Load { before: load_avg(), cores: std::thread::available_parallelism().map_or(1, |n| n.get()) }
    }

    /// `load 0.12 → 1.95 on 2 cores` (the load after includes the part's own).
    pub(crate) fn text(&self) -> String {
        format!("load {:.2} → {:.2} on {} cores", self.before, load_avg(), self.cores)
    }

    /// "trustworthy", or why not: other work before the part (load above half the cores and a
    /// half), or a figure whose rounds spread too far apart.
    pub(crate) fn verdict(&self, spreads: &[&Spread]) -> String {
        if self.before > 0.5 * self.cores as f64 + 0.5 {
            return format!(
                "NOT trustworthy: the machine was busy before (load {:.2} on {} cores)",
                self.before, self.cores
            );
        }
        match spreads.iter().filter_map(|s| s.too_wide()).reduce(f64::max) {
            Some(r) => format!("NOT trustworthy: the rounds spread {:.0}% apart", (r - 1.0) * 100.0),
            None => "trustworthy".to_string(),
        }
    }
}

/// Waits (at most `limit`) until the machine is quiet enough for a figure to be trusted —
/// the load of a part just ended takes a minute to fade from the 1-minute average; the load
/// it waited for, if it waited.
pub(crate) fn settle(limit: Duration) -> Option<f64> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let started = std::time::Instant::now();
    let first = load_avg();
    while load_avg() > 0.5 * cores + 0.5 && started.elapsed() < limit {
        std::thread::sleep(Duration::from_secs(2));
    }
    (first > 0.5 * cores + 0.5).then_some(first)
}

/// The 1-minute load average (Linux), else 0.
fn load_avg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: getrusage writes the struct it is given; a zeroed rusage is a valid value.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    }
}

fn cpu_of(u: &libc::rusage) -> Duration {
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// CPU time (user + system) of this process, all threads.
pub(crate) fn process_cpu() -> Duration {
    cpu_of(&rusage(libc::RUSAGE_SELF))
}

/// CPU time (user + system) of the child processes that have ended and been waited for.
pub(crate) fn children_cpu() -> Duration {
    cpu_of(&rusage(libc::RUSAGE_CHILDREN))
}

/// CPU time of this thread, from the scheduler's own accounting (Linux), else wall time.
pub(crate) fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .map(Duration::from_nanos)
        .unwrap_or_else(|| {
            static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
            START.get_or_init(std::time::Instant::now).elapsed()
        })
}

/// Peak resident memory of this process (VmHWM), in MiB (NaN where /proc does not say).
pub(crate) fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()))
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// This machine in words: CPU model, cores, memory, kernel.
pub(crate) fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim()))
        .unwrap_or("unknown CPU")
        .to_string();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next().and_then(|k| k.parse::<f64>().ok()))
        })
        .map_or(String::new(), |kib| format!(", {:.0} GiB", kib / 1024.0 / 1024.0));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or(String::new(), |k| format!(", Linux {}", k.trim()));
    format!("{model}, {cores} cores{mem}{kernel}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_median_and_range() {
        let s = Spread::of(&[3.0, 1.0, 2.0, f64::NAN]).unwrap();
        assert_eq!((s.median, s.lo, s.hi, s.n), (2.0, 1.0, 3.0, 3));
        assert_eq!(Spread::of(&[1.0, 4.0]).unwrap().median, 2.5);
        assert!(Spread::of(&[]).is_none());
        assert_eq!(s.ratio(), "2.00× (1.00–3.00)");
        assert_eq!(s.with_unit("µs", 1), "2.0 µs (1.0–3.0)");
        assert_eq!(Spread::of(&[1.0, 1.2]).unwrap().too_wide(), None);
        assert_eq!(Spread::of(&[1.0, 1.5]).unwrap().too_wide(), Some(1.5));
        assert_eq!(Spread::of(&[5.0]).unwrap().too_wide(), None, "one round has no spread");
    }

    #[test]
    fn rounds_rotate_the_order() {
        let order = std::cell::RefCell::new(String::new());
        let mut a = || {
            order.borrow_mut().push('a');
            Ok(1)
        };
        let mut b = || {
            order.borrow_mut().push('b');
            Ok(2)
        };
        let mut c = || {
            order.borrow_mut().push('c');
            Ok(3)
        };
        let got = interleave(4, &mut [&mut a, &mut b, &mut c]).unwrap();
        assert_eq!(order.into_inner(), "abcbcacababc");
        assert_eq!(got, vec![vec![1; 4], vec![2; 4], vec![3; 4]]);
        let mut fails = || Err::<u8, _>("no wrk".to_string());
        assert_eq!(interleave(2, &mut [&mut fails]).unwrap_err(), "no wrk");
    }

    #[test]
    fn a_busy_machine_or_a_wide_spread_is_not_trusted() {
        let narrow = Spread::of(&[1.0, 1.1]).unwrap();
        let wide = Spread::of(&[1.0, 2.0]).unwrap();
        let idle = Load { before: 0.2, cores: 2 };
        assert_eq!(idle.verdict(&[&narrow]), "trustworthy");
        assert_eq!(idle.verdict(&[&narrow, &wide]), "NOT trustworthy: the rounds spread 100% apart");
        let busy = Load { before: 1.8, cores: 2 };
        assert!(busy.verdict(&[&narrow]).starts_with("NOT trustworthy: the machine was busy"));
    }

    #[test]
    fn clocks_advance_with_work() {
        let (p, t) = (process_cpu(), thread_cpu());
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process_cpu() > p && thread_cpu() > t);
        assert!(machine().contains("cores"));
    }
}
