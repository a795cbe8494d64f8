//! The search against a modelled server: requests queued for `slots` answering in order of
//! arrival, in virtual time — so a search's verdicts and path are tested on counts a real
//! server would give, seeded, without a clock (the real-time runs are `scripts/capacity-search.sh`).

use super::*;

/// Uniform draws in [0, 1) from the project's mixer.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(1);
        (crate::suite::perf::mix(self.0) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A server answering at most `slots` requests at once, the others waiting in order of
/// arrival; an answer takes `service` seconds (± `jitter`, a share), its first token `ttft`
/// after it starts. A request meets the SLO when its time to first token (its wait and
/// `ttft`) is at most `slo`.
struct Modelled {
    slots: usize,
    service: f64,
    ttft: f64,
    jitter: f64,
    slo: f64,
}

impl Modelled {
    fn serve(&self, rng: &mut Rng, free: &mut [f64], arrive: f64) -> (f64, bool) {
        let (slot, at) = free.iter().copied().enumerate().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        let start = arrive.max(at);
        let end = start + self.service * (1.0 + self.jitter * (2.0 * rng.unit() - 1.0));
        free[slot] = end;
        (end, start - arrive + self.ttft <= self.slo)
    }

    /// Poisson arrivals at `rate` for `length` seconds: whether each request met the SLO, and
    /// when it ended.
    fn open(&self, rng: &mut Rng, rate: f64, length: f64) -> Vec<(bool, f64)> {
        let mut free = vec![0.0; self.slots];
        let (mut t, mut out) = (0.0, Vec::new());
        loop {
            t += -rng.unit().max(1e-300).ln() / rate;
            if t >= length {
                return out;
            }
            let (end, met) = self.serve(rng, &mut free, t);
            out.push((met, end));
        }
    }

    /// `c` clients back to back for `length` seconds: whether each request met the SLO, and
    /// when it ended.
    fn closed(&self, rng: &mut Rng, c: usize, length: f64) -> Vec<(bool, f64)> {
        let mut free = vec![0.0; self.slots];
        let mut next = vec![0.0f64; c];
        let mut out = Vec::new();
        loop {
            let (k, t) = next.iter().copied().enumerate().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
            if t >= length {
                return out;
            }
            let (end, ok) = self.serve(rng, &mut free, t);
            next[k] = end;
            out.push((ok, end));
        }
    }
}

/// A search run to its end against `measure(value)`: one length of a probe (each request:
/// whether it met the SLO, when it ended). A rate search also asks whether the server kept up.
fn search(s: &mut Searcher, by_rate: bool, mut measure: impl FnMut(f64) -> Vec<(bool, f64)>) {
    while let Some(value) = s.next() {
        let (mut met, mut ends, mut lengths) = (Vec::new(), Vec::new(), 0);
        let verdict = loop {
            let offset = ends.last().copied().unwrap_or(0.0);
            for (m, end) in measure(value) {
                met.push(m);
                ends.push(offset + end);
            }
            lengths += 1;
            let overloaded = by_rate && overloaded(value, &ends, true).is_some();
            if let Some(v) = s.judge(&met, lengths, overloaded) {
                break v;
            }
        };
        let level = s.probes.len();
        s.record(Searcher::probe(value, level, &met, lengths, verdict));
    }
}

/// `met` of `n` requests met the SLO (the misses spread evenly).
fn counts(n: usize, met: usize) -> Vec<bool> {
    (0..n).map(|i| (i * met) / n != ((i + 1) * met) / n).collect()
}

#[test]
fn a_rate_search_finds_the_highest_rate_meeting_the_slo_within_10_percent_in_9_of_10() {
    // 4 slots of 100 ms: 40 requests/s at most; Poisson arrivals queue before that, and a
    // request meets the SLO when it waited at most 50 ms. The rate at which 95% of requests
    // meet it, from one long run per rate (bisection, 4,000 s each):
    let server = Modelled { slots: 4, service: 0.1, ttft: 0.02, jitter: 0.2, slo: 0.07 };
    let attains = |rate: f64| {
        let met: Vec<bool> = server.open(&mut Rng(99), rate, 4000.0).into_iter().map(|(m, _)| m).collect();
        super::share(&met) >= 0.95
    };
    let (mut lo, mut hi) = (1.0, 40.0);
    for _ in 0..30 {
        let mid = (lo + hi) / 2.0;
        if attains(mid) { lo = mid } else { hi = mid }
    }
    let truth = lo;
    assert!((20.0..38.0).contains(&truth), "queueing costs some of the 40/s: {truth}");

    let mut found = Vec::new();
    for seed in 0..10u64 {
        let mut rng = Rng(seed << 32);
        let mut s = Searcher::new((1.0, 128.0), 0.95, 0.05, false);
        search(&mut s, true, |rate| server.open(&mut rng, rate, 30.0));
        let result = s.finish(true, None);
        assert!(result.probes.len() <= 14, "{:?}", result.probes);
        assert!(result.probes.windows(2).all(|p| p[0].value != p[1].value), "no value probed twice running");
        found.push(result.capacity.unwrap());
    }
    let within = found.iter().filter(|f| (*f / truth - 1.0).abs() <= 0.10).count();
    assert!(within >= 9, "{within} of 10 within 10% of {truth:.2}/s: {found:?}");
}

#[test]
fn a_concurrency_search_finds_the_exact_level_on_a_steady_server() {
    // 4 slots of 100 ms: from 5 clients on, some request waits a whole answer each round.
    let server = Modelled { slots: 4, service: 0.1, ttft: 0.02, jitter: 0.0, slo: 0.08 };
    let mut rng = Rng(7);
    let mut s = Searcher::new((1.0, 64.0), 0.95, 0.05, true);
    search(&mut s, false, |c| server.closed(&mut rng, c as usize, 30.0));
    let result = s.finish(false, None);
    assert_eq!((result.capacity, result.missed_at), (Some(4.0), Some(5.0)), "{:?}", result.probes);
    let path: Vec<f64> = result.probes.iter().map(|p| p.value).collect();
    assert_eq!(path, [1.0, 2.0, 4.0, 8.0, 6.0, 5.0], "doubling, then bisection");
    assert_eq!(result.conclusion(), "capacity c=4 (slo_attainment ≥ 95%): c=4 met it, c=5 missed it");
}

#[test]
fn a_verdict_too_close_to_call_runs_longer_then_says_it_is_an_estimate() {
    let s = Searcher::new((1.0, 10.0), 0.95, 0.05, false);
    // 95 of 100: the interval (88.8–97.8%) straddles 95%.
    assert_eq!(s.judge(&counts(100, 95), 1, false), None);
    assert_eq!(s.judge(&counts(100, 95), MAX_LENGTHS - 1, false), None);
    assert_eq!(s.judge(&counts(100, 95), MAX_LENGTHS, false), Some(Verdict::MetByEstimate));
    assert_eq!(s.judge(&counts(100, 94), MAX_LENGTHS, false), Some(Verdict::MissedByEstimate));
    // Clear either way after one length.
    assert_eq!(s.judge(&counts(200, 200), 1, false), Some(Verdict::Met));
    assert_eq!(s.judge(&counts(200, 150), 1, false), Some(Verdict::Missed));
    // A load that could not be sent, or nothing answered: missed.
    assert_eq!(s.judge(&counts(200, 200), 1, true), Some(Verdict::Missed));
    assert_eq!(s.judge(&[], 1, false), Some(Verdict::Missed));
    // 190 of 200 is 95%, but all 10 misses in one stretch: batches tell what the count does not.
    let bunched: Vec<bool> = (0..200).map(|i| !(100..110).contains(&i)).collect();
    let (even, lumpy) = (
        interval(&counts(200, 199)).unwrap(),
        interval(&{
            let mut v = vec![true; 200];
            v[100..130].iter_mut().for_each(|m| *m = false);
            v
        })
        .unwrap(),
    );
    assert!(even.0 > 0.97, "{even:?}");
    assert!(
        lumpy.0 < interval(&counts(200, 170)).unwrap().0,
        "a stretch of misses widens the interval: {lumpy:?}"
    );
    assert_eq!(s.judge(&bunched, 1, false), None);
}

#[test]
fn the_ends_of_the_range_are_stated_as_such() {
    let always = |met: bool| {
        let mut s = Searcher::new((2.0, 16.0), 0.9, 0.05, false);
        search(&mut s, false, |_| {
            counts(100, if met { 100 } else { 0 }).into_iter().map(|m| (m, 0.0)).collect()
        });
        s.finish(true, None)
    };
    let top = always(true);
    assert_eq!(top.probes.iter().map(|p| p.value).collect::<Vec<_>>(), vec![2.0, 4.0, 8.0, 16.0]);
    assert_eq!(
        top.conclusion(),
        "capacity at least 16/s (slo_attainment ≥ 90%): the top of the searched range met it; search higher"
    );
    let bottom = always(false);
    assert_eq!(bottom.probes.len(), 1);
    assert_eq!(bottom.capacity, None);
    assert_eq!(
        bottom.conclusion(),
        "capacity below 2/s (slo_attainment ≥ 90%): the lowest probe missed it; search lower"
    );
}

#[test]
fn an_edge_decided_by_estimate_is_named_in_the_conclusion() {
    let mut s = Searcher::new((1.0, 4.0), 0.95, 0.5, false);
    s.record(Searcher::probe(1.0, 0, &counts(300, 300), 1, Verdict::Met));
    s.record(Searcher::probe(2.0, 1, &counts(300, 287), 3, Verdict::MetByEstimate));
    s.record(Searcher::probe(4.0, 2, &counts(300, 100), 1, Verdict::Missed));
    // 4 / 2 is more than 1.5 apart: one more probe, at 2√2.
    assert!((s.next().unwrap() - 8f64.sqrt()).abs() < 1e-12);
    let result = s.finish(true, Some("stopped".into()));
    let text = result.conclusion();
    assert!(text.starts_with("capacity 2/s (slo_attainment ≥ 95%): 2/s met it, 4/s missed it; 2/s's verdict is its estimate (95.7%, interval 92.7–97.5%"), "{text}");
    assert!(text.ends_with("; stopped"), "{text}");
    assert_eq!(result.capacity_probe().unwrap().level, 1);
}

#[test]
fn a_noisy_meet_above_a_miss_leaves_the_miss_standing() {
    let mut s = Searcher::new((1.0, 64.0), 0.95, 0.05, false);
    s.record(Searcher::probe(8.0, 0, &counts(300, 300), 1, Verdict::Met));
    s.record(Searcher::probe(16.0, 1, &counts(300, 10), 1, Verdict::Missed));
    s.record(Searcher::probe(20.0, 2, &counts(300, 300), 1, Verdict::Met));
    let result = s.finish(true, None);
    assert_eq!((result.capacity, result.missed_at), (Some(8.0), Some(16.0)));
}
