use super::*;
use crate::perf::result::Sample;
use crate::perf::stats::Stats;
use std::collections::BTreeMap;

/// A level of requests (start, e2e), in seconds, each producing 32 tokens.
fn level(c: u32, requests: &[(f64, f64)]) -> LevelResult {
    let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let samples: Vec<Sample> = requests
        .iter()
        .map(|&(start, e2e)| {
            let mut s = Sample::at(t0 + chrono::Duration::microseconds((start * 1e6) as i64), None, e2e);
            s.output_tokens = Some(32);
            s
        })
        .collect();
    let e2e: Vec<f64> = requests.iter().map(|r| r.1).collect();
    let mut stats = BTreeMap::new();
    stats.insert(crate::suite::metrics::Metric::E2e, Stats::of(&e2e).unwrap());
    stats.insert(crate::suite::metrics::Metric::OutputTokens, Stats::of(&vec![32.0; e2e.len()]).unwrap());
    LevelResult {
        concurrency: c,
        started_at: None,
        requests: e2e.len(),
        errors: 0,
        elapsed: 1.0,
        stats,
        figures: BTreeMap::new(),
        samples,
        samples_not_in_report: 0,
        file: None,
        first_error: None,
        samples_error: None,
        window: None,
        windows: vec![],
        drift: BTreeMap::new(),
        gpu_samples: vec![],
        gpu_error: None,
        rate: None,
        rounds: vec![],
        stage: None,
    }
}

/// Back-to-back requests of one client: each starts when the one before ended.
fn serial(e2e: &[f64]) -> Vec<(f64, f64)> {
    let mut at = 0.0;
    e2e.iter()
        .map(|e| {
            let r = (at, *e);
            at += e;
            r
        })
        .collect()
}

/// xorshift64*: a seeded stream of uniforms in [0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A closed loop of `c` clients against a server of `capacity` slots (first come, first
/// served), each request's service time 1 s × (1 ± noise), `n` requests in all (as hxrun's
/// workers share a level's quota): each request's start and e2e, queueing included.
fn closed_loop(capacity: usize, c: usize, n: usize, noise: f64, rng: &mut Rng) -> Vec<(f64, f64)> {
    let mut queue: std::collections::VecDeque<f64> = (0..c).map(|_| 0.0).collect(); // submit times
    let mut slots: Vec<Option<(f64, f64)>> = vec![None; capacity]; // (submitted, done)
    let mut now = 0.0;
    let mut started = c;
    let mut e2e = Vec::with_capacity(n);
    while e2e.len() < n {
        for slot in slots.iter_mut().filter(|s| s.is_none()) {
            let Some(submitted) = queue.pop_front() else { break };
            let service = 1.0 + noise * (2.0 * rng.next() - 1.0);
            *slot = Some((submitted, now + service));
        }
        let (i, (submitted, done)) = slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i, s)))
            .min_by(|a, b| a.1.1.total_cmp(&b.1.1))
            .unwrap();
        now = done;
        slots[i] = None;
        e2e.push((submitted, done - submitted));
        if started < n {
            started += 1;
            queue.push_back(now);
        }
    }
    e2e
}

fn sweep(capacity: usize, top: u32, n: usize, noise: f64, seed: u64) -> Vec<LevelResult> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut c = 1;
    let mut levels = Vec::new();
    while c <= top {
        levels.push(level(c, &closed_loop(capacity, c as usize, n, noise, &mut rng)));
        c *= 2;
    }
    levels
}

#[test]
fn servers_of_1_2_4_and_8_slots_give_their_knee_under_noise() {
    for capacity in [1usize, 2, 4, 8] {
        let right = (0..10)
            .filter(|seed| {
                let k = find(&sweep(capacity, 16, 64, 0.3, *seed)).unwrap();
                k.saturates_at() == Some(capacity as u32)
            })
            .count();
        let example = find(&sweep(capacity, 16, 64, 0.3, 0)).unwrap();
        assert!(right >= 9, "capacity {capacity}: the right knee in {right} of 10 sweeps, e.g. {example:#?}");
    }
}

#[test]
fn a_server_faster_at_every_level_is_still_rising() {
    let k = find(&sweep(16, 8, 48, 0.2, 1)).unwrap();
    assert_eq!((k.finding, k.concurrency, k.best), (Finding::StillRising, None, 8));
    assert!(
        k.describe().starts_with("throughput still rises at the highest concurrency tested (8): "),
        "{}",
        k.describe()
    );
}

#[test]
fn a_level_too_short_for_a_steady_state_is_said_not_guessed() {
    // One round at 16 against one slot: the first round alone would say 1.9 requests/s.
    let levels = vec![level(1, &serial(&[1.0; 40])), level(16, &closed_loop(1, 16, 16, 0.0, &mut Rng(7)))];
    let k = find(&levels).unwrap();
    assert_eq!((k.finding, k.concurrency, k.short), (Finding::TooFewRequests, Some(16), Some((16, 40))));
    assert!(
        k.describe()
            .contains("concurrency 16 had 16 successful requests, and a level's steady state needs 40")
    );
}

#[test]
fn an_interval_across_the_line_is_not_determined() {
    // Level 2's steady requests say 83% of the best, with batches far apart: not placed.
    // The server slowed down half way through the level: batches tell, where 20 requests
    // taken as independent would not.
    let noisy: Vec<f64> = (0..20).map(|i| if i < 10 { 0.6 } else { 1.8 }).collect();
    let levels = vec![level(1, &serial(&[1.0; 20])), level(2, &pair(&noisy)), level(4, &quad(&[2.0; 40]))];
    let k = find(&levels).unwrap();
    assert_eq!((k.finding, k.concurrency), (Finding::NotDetermined, Some(2)), "{k:?}");
    assert!(
        k.describe().starts_with("the knee is not determined: at concurrency 2 throughput is "),
        "{}",
        k.describe()
    );
    assert_eq!(k.saturates_at(), None);
}

/// `e2e` run by two clients back to back (alternating), and by four.
fn pair(e2e: &[f64]) -> Vec<(f64, f64)> {
    clients(e2e, 2)
}
fn quad(e2e: &[f64]) -> Vec<(f64, f64)> {
    clients(e2e, 4)
}
fn clients(e2e: &[f64], c: usize) -> Vec<(f64, f64)> {
    let mut at = vec![0.0; c];
    e2e.iter()
        .enumerate()
        .map(|(i, e)| {
            let r = (at[i % c], *e);
            at[i % c] += e;
            r
        })
        .collect()
}

#[test]
fn the_verdict_states_the_intervals() {
    let levels =
        vec![level(1, &serial(&[1.0; 12])), level(2, &pair(&[1.0; 12])), level(4, &quad(&[2.0; 16]))];
    let k = find(&levels).unwrap();
    assert_eq!(k.saturates_at(), Some(2));
    assert_eq!(
        k.describe(),
        "throughput saturates at concurrency 2: 64.0 output tokens/s (95% CI 64.0–64.0), within 10% of the best \
         (c=2: 64.0); c=1 reaches 32.0 output tokens/s (95% CI 32.0–32.0), below 57.6"
    );
    // One level, or an open loop: no knee.
    assert!(find(&levels[..1]).is_none());
}

#[test]
fn an_estimate_under_the_line_is_not_the_knee_even_when_its_interval_reaches_it() {
    let t = |c: u32, value: f64, half: f64| Throughput {
        concurrency: c,
        value,
        low: value - half,
        high: value + half,
    };
    // The real llama-server's probe sweep in CI: c=2 at 86% of the best, ±8%.
    let levels = [t(1, 53.1, 5.2), t(2, 76.3, 6.2), t(4, 88.8, 5.6), t(8, 87.7, 10.3)];
    assert_eq!(decide(&levels), Some((Finding::NotDetermined, Some(2), 4)));
    // On the line or above, and narrow: the knee.
    let levels = [t(1, 53.1, 5.2), t(2, 80.5, 6.2), t(4, 88.8, 5.6), t(8, 87.7, 10.3)];
    assert_eq!(decide(&levels), Some((Finding::Saturates, Some(2), 4)));
    // Clearly under: the next level is the knee.
    let levels = [t(1, 53.1, 5.2), t(2, 70.0, 3.0), t(4, 88.8, 5.6), t(8, 87.7, 10.3)];
    assert_eq!(decide(&levels), Some((Finding::Saturates, Some(4), 4)));
}

/// A sweep in interleaved rounds (up, down, up...) against a server of `capacity` slots whose
/// pace drifts by up to ± `swing` over the run (the machine's slow and fast stretches: a
/// sine over four rounds, its phase by the seed), each round of a level `n` requests.
fn sweep_in_rounds(capacity: usize, rounds: usize, n: usize, swing: f64, seed: u64) -> Vec<LevelResult> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let levels = [1u32, 2, 4, 8];
    let mut requests: Vec<Vec<(f64, f64)>> = vec![Vec::new(); levels.len()];
    let mut starts: Vec<Vec<f64>> = vec![Vec::new(); levels.len()];
    let mut now = 0.0;
    let phase = rng.next() * std::f64::consts::TAU;
    let period = 4.0 * round_time(capacity, n);
    for r in 0..rounds {
        let order: Vec<usize> = if r % 2 == 0 { (0..4).collect() } else { (0..4).rev().collect() };
        for i in order {
            // The server's pace during this round of this level.
            let slow = 1.0 + swing * (std::f64::consts::TAU * now / period + phase).sin();
            let reqs = closed_loop(capacity, levels[i] as usize, n, 0.2, &mut rng);
            starts[i].push(now);
            let end = reqs.iter().map(|(s, e)| s + e).fold(0.0, f64::max);
            requests[i].extend(reqs.iter().map(|(s, e)| (now + s * slow, e * slow)));
            now += end * slow + 0.5;
        }
    }
    let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    levels
        .iter()
        .zip(requests.iter().zip(&starts))
        .map(|(&c, (reqs, starts))| {
            let mut l = level(c, reqs);
            l.rounds = starts
                .iter()
                .map(|s| crate::perf::result::Segment {
                    started_at: t0 + chrono::Duration::microseconds((s * 1e6) as i64),
                    elapsed: 1.0,
                })
                .collect();
            l
        })
        .collect()
}

#[test]
fn rounds_compare_each_level_with_the_best_in_the_same_round() {
    // Slow and fast stretches of ±35% from round to round: one pass cannot tell a level's
    // throughput from the stretch it fell in; paired rounds can.
    for capacity in [1usize, 2, 4] {
        let right = (0..10)
            .filter(|seed| {
                let k = find(&sweep_in_rounds(capacity, 6, 24, 0.35, *seed)).unwrap();
                k.saturates_at() == Some(capacity as u32)
            })
            .count();
        let example = find(&sweep_in_rounds(capacity, 6, 24, 0.35, 0)).unwrap();
        assert_eq!(example.rounds, 6);
        assert!(right >= 9, "capacity {capacity}: the right knee in {right} of 10 sweeps, e.g. {example:#?}");
        // The same requests read as one pass per level (their rounds forgotten): the drift
        // between levels decides it instead.
        let one_pass = (0..10)
            .filter(|seed| {
                let mut levels = sweep_in_rounds(capacity, 6, 24, 0.35, *seed);
                levels.iter_mut().for_each(|l| l.rounds.clear());
                find(&levels).unwrap().saturates_at() == Some(capacity as u32)
            })
            .count();
        assert!(one_pass <= 3, "capacity {capacity}: one pass was right in {one_pass} of 10");
    }
    let k = find(&sweep_in_rounds(4, 6, 24, 0.35, 3)).unwrap();
    assert!(k.describe().contains(", paired over 6 rounds)"), "{}", k.describe());
}

#[test]
fn a_round_too_short_for_a_steady_state_is_said() {
    // Concurrency 8 needs 2 × 8 + 4 requests a round; 12 are too few.
    let k = find(&sweep_in_rounds(4, 3, 12, 0.0, 1)).unwrap();
    assert_eq!((k.finding, k.concurrency, k.short), (Finding::TooFewRequests, Some(8), Some((12, 20))));
    assert!(
        k.describe().contains(
            "had 12 successful requests in a round, and a round of a level's steady state needs 20"
        ),
        "{}",
        k.describe()
    );
}

/// Seconds a round of levels 1, 2, 4 and 8 takes at pace 1 (1 s a request, `capacity` slots).
fn round_time(capacity: usize, n: usize) -> f64 {
    [1usize, 2, 4, 8].iter().map(|c| n as f64 / (*c).min(capacity) as f64).sum()
}

#[test]
fn the_ratio_estimator_sets_each_level_against_the_best_over_the_same_rounds() {
    // Each round a level of 1 answers at half the pace of the level of 2 beside it, whatever
    // the round's own pace: the ratio is exactly one half, its interval of no width.
    let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let round = |c: usize, e2e: f64, at: f64| -> Vec<Done> {
        (0..2 * c + 8)
            .map(|i| Done {
                started_at: t0 + chrono::Duration::milliseconds(((at + i as f64) * 1000.0) as i64),
                e2e,
                output_tokens: Some(10),
            })
            .collect()
    };
    let paces = [1.0, 1.7, 0.6, 1.2];
    let levels: Vec<(u32, Vec<Vec<Done>>)> = vec![
        (1, paces.iter().enumerate().map(|(r, p)| round(1, 2.0 * p, 100.0 * r as f64)).collect()),
        (2, paces.iter().enumerate().map(|(r, p)| round(2, 2.0 * p, 100.0 * r as f64 + 50.0)).collect()),
    ];
    let levels: Vec<(u32, &[Vec<Done>])> = levels.iter().map(|(c, r)| (*c, r.as_slice())).collect();
    let k = of_rounds(&levels, CONFIDENCE);
    let (one, two) = (&k.levels[0], &k.levels[1]);
    assert!((one.value / two.value - 0.5).abs() < 1e-9, "{k:#?}");
    assert!((one.high - one.low).abs() < 1e-9 && (two.high - two.low).abs() < 1e-9, "{k:#?}");
    assert_eq!((k.finding, k.concurrency, k.best), (Finding::StillRising, None, 2));
}

/// A sweep in rounds read as a sweep run until decided: a look after each round from `min`,
/// at that look's confidence, stopping at the first decision. The finding and the rounds run.
fn until_decided(levels: &[LevelResult], min: u32, max: u32) -> (Knee, u32) {
    let looks = crate::perf::looks::Looks::new(min, max);
    let all: Vec<(u32, Vec<Vec<Done>>)> = levels.iter().map(|l| (l.concurrency, rounds_of(l))).collect();
    for n in min..=max {
        let seen: Vec<(u32, &[Vec<Done>])> = all.iter().map(|(c, r)| (*c, &r[..n as usize])).collect();
        let k = of_rounds(&seen, looks.confidence(n));
        if k.finding != Finding::NotDetermined || n == max {
            return (k, n);
        }
    }
    unreachable!()
}

#[test]
fn a_sweep_run_until_decided_decides_where_a_fixed_one_could_not() {
    // A pace that wanders ±35% over the rounds: 4 fixed rounds decide some sweeps; looking
    // after each round from the 4th to the 12th decides nearly all, never a wrong knee.
    for capacity in [1usize, 2, 4] {
        let mut decided = 0;
        let mut fixed = 0;
        for seed in 0..10 {
            let levels = sweep_in_rounds(capacity, 12, 24, 0.35, seed);
            let (k, n) = until_decided(&levels, 4, 12);
            if let Some(at) = k.saturates_at() {
                assert_eq!(at, capacity as u32, "seed {seed}, after {n} rounds: {k:#?}");
                decided += 1;
            }
            let four = until_decided(&levels, 4, 4).0;
            fixed += usize::from(four.saturates_at() == Some(capacity as u32));
        }
        assert!(
            decided >= 9 && decided >= fixed,
            "capacity {capacity}: {decided} decided, {fixed} in 4 rounds"
        );
    }
}
