//! Shares of cases: the Wilson score interval of a pass rate, and McNemar's exact test of two
//! runs of the same cases. Exact arithmetic in log space, so 10,000 cases neither overflow nor
//! lose the tail.

/// The two-sided 95% normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// The 95% Wilson score interval of `passed` successes in `total` trials, as shares (0..=1);
/// None for no trials. Unlike the normal ("Wald") interval it stays inside 0..1 and is honest
/// at 0 and at `total` (48 of 48 is not "100% ± 0").
pub(crate) fn wilson(passed: u64, total: u64) -> Option<(f64, f64)> {
    if total == 0 {
        return None;
    }
    let n = total as f64;
    let p = passed.min(total) as f64 / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At 0 and at `total` the bound is exactly 0 or 1 (the arithmetic leaves 1e-16 over).
    let low = if passed == 0 { 0.0 } else { (centre - half).max(0.0) };
    let high = if passed >= total { 1.0 } else { (centre + half).min(1.0) };
    Some((low, high))
}

/// McNemar's exact test: of the cases two runs judged differently, `lost` passed in the first
/// run and failed in the second, `gained` the other way. The two-sided p-value of so uneven a
/// split if each flip were a fair coin (the binomial test on the discordant pairs); 1 when
/// there are none.
pub(crate) fn mcnemar(lost: u64, gained: u64) -> f64 {
    let n = lost + gained;
    if n == 0 {
        return 1.0;
    }
    let k = lost.min(gained);
    // P(X <= k) for X ~ Binomial(n, 1/2), summed from log terms.
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut tail = 0.0f64;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose - ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn wilson_matches_published_intervals() {
        // Newcombe (1998), Statistics in Medicine 17, table I: 81/263 → 0.2553–0.3662;
        // 15/148 → 0.0624–0.1605; 0/20 → 0–0.1611; 1/29 → 0.0061–0.1718.
        for (x, n, lo, hi) in [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ] {
            let (l, h) = wilson(x, n).unwrap();
            assert!(close(l, lo, 5e-4) && close(h, hi, 5e-4), "{x}/{n}: {l:.4}–{h:.4}, published {lo}–{hi}");
        }
        // All passed: the interval does not claim certainty.
        let (l, h) = wilson(48, 48).unwrap();
        assert!(l < 0.93 && l > 0.9 && h == 1.0, "{l} {h}");
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn mcnemar_is_the_exact_binomial_test_of_the_flips() {
        // Hand-computed: 0 vs 6 flips → 2 × (1/2)^6 = 0.03125; 1 vs 9 → 2 × 11/1024.
        assert!(close(mcnemar(6, 0), 0.03125, 1e-12));
        assert!(close(mcnemar(1, 9), 22.0 / 1024.0, 1e-12));
        assert!(close(mcnemar(9, 1), 22.0 / 1024.0, 1e-12));
        // Even splits and no flips are no evidence.
        assert_eq!(mcnemar(5, 5), 1.0);
        assert_eq!(mcnemar(0, 0), 1.0);
        // 2 × Σ_{i≤12} C(40,i) / 2^40 = 0.016589...
        assert!(close(mcnemar(12, 28), 0.016_589_003, 1e-8), "{}", mcnemar(12, 28));
        // Thousands of cases: no overflow, no NaN.
        let p = mcnemar(4_000, 4_400);
        assert!(p.is_finite() && p > 0.0 && p < 0.01, "{p}");
    }
}
