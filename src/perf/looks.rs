//! Repeated looks at a sweep that runs rounds until its knee is decided (`rounds: { min, max }`):
//! group-sequential boundaries of O'Brien and Fleming's shape (1979), so that looking after
//! every round from `min` to `max` and stopping at the first decision keeps the chance that any
//! look draws a wrong line through a level at 5%, as one look at the end would.
//!
//! A look after `n` of at most `max` rounds sees the information fraction `t = n / max`; its
//! boundary is `z = C / √t`, strict early and near 1.96 at the last look, with `C` the constant
//! for which a Brownian motion observed at those fractions crosses a boundary with probability
//! 5% (Armitage, McPherson and Rowe's recursive integration, Simpson's rule on a grid). Each
//! look's interval is Student's t at the confidence its boundary stands for (the usual reading
//! of a z boundary when the variance is estimated). `C` reproduces Jennison and Turnbull's
//! table 2.3 for equally spaced looks (1.977 for 2, 2.040 for 5, 2.087 for 10).

use statrs::distribution::{Continuous, ContinuousCDF, Normal};

/// The overall two-sided chance of a wrong line.
const ALPHA: f64 = 0.05;
/// Grid points across a look's continuation region (odd, for Simpson's rule; 51 gives C to 4
/// decimals, as 301 does).
const GRID: usize = 51;

/// The looks after each round from `min` to `max`, and their boundaries' constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Looks {
    pub(crate) min: u32,
    pub(crate) max: u32,
    c: f64,
}

impl Looks {
    /// The looks after rounds `min..=max` (1 ≤ min ≤ max).
    pub(crate) fn new(min: u32, max: u32) -> Looks {
        let min = min.max(1);
        let max = max.max(min);
        let fractions: Vec<f64> = (min..=max).map(|n| f64::from(n) / f64::from(max)).collect();
        Looks { min, max, c: constant(&fractions) }
    }

    /// The two-sided confidence of a level's interval at the look after `rounds` rounds.
    pub(crate) fn confidence(&self, rounds: u32) -> f64 {
        let t = f64::from(rounds.clamp(self.min, self.max)) / f64::from(self.max);
        let z = self.c / t.sqrt();
        1.0 - 2.0 * (1.0 - std_normal().cdf(z))
    }
}

fn std_normal() -> Normal {
    Normal::standard()
}

/// The chance that a Brownian motion observed at `fractions` (ascending, the last 1) leaves
/// ± `bounds[k]·√t_k` at some look: one minus the mass that stays inside at every look.
fn crossing(bounds: &[f64], fractions: &[f64]) -> f64 {
    let n = std_normal();
    let mut inside: Option<(Vec<f64>, Vec<f64>)> = None; // grid, density × Simpson weight
    let mut previous = 0.0;
    let mut stayed = 1.0;
    for (&b, &t) in bounds.iter().zip(fractions) {
        let edge = b * t.sqrt();
        let s = (t - previous).sqrt();
        let dx = 2.0 * edge / (GRID - 1) as f64;
        let grid: Vec<f64> = (0..GRID).map(|i| -edge + i as f64 * dx).collect();
        let (density, kept) = match &inside {
            None => (
                grid.iter().map(|x| n.pdf(x / s) / s).collect::<Vec<f64>>(),
                n.cdf(edge / s) - n.cdf(-edge / s),
            ),
            Some((from, mass)) => {
                let density = grid
                    .iter()
                    .map(|x| from.iter().zip(mass).map(|(y, m)| m * n.pdf((x - y) / s) / s).sum())
                    .collect();
                let kept = from
                    .iter()
                    .zip(mass)
                    .map(|(y, m)| m * (n.cdf((edge - y) / s) - n.cdf((-edge - y) / s)))
                    .sum();
                (density, kept)
            }
        };
        stayed = kept;
        let weighted = density
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let w = if i == 0 || i == GRID - 1 {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                d * w * dx / 3.0
            })
            .collect();
        inside = Some((grid, weighted));
        previous = t;
    }
    1.0 - stayed
}

/// O'Brien and Fleming's constant for looks at `fractions`: bisection on `C` until the
/// boundaries `C / √t` are crossed with probability `ALPHA`.
fn constant(fractions: &[f64]) -> f64 {
    let (mut low, mut high) = (1.5, 5.0);
    for _ in 0..30 {
        let mid = (low + high) / 2.0;
        let bounds: Vec<f64> = fractions.iter().map(|t| mid / t.sqrt()).collect();
        if crossing(&bounds, fractions) > ALPHA {
            low = mid;
        } else {
            high = mid;
        }
    }
    (low + high) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn equally_spaced(k: u32) -> f64 {
        constant(&(1..=k).map(|i| f64::from(i) / f64::from(k)).collect::<Vec<_>>())
    }

    #[test]
    fn the_constants_are_jennison_and_turnbulls() {
        // Table 2.3 of Jennison & Turnbull, Group Sequential Methods (2000), α = 0.05.
        for (k, published) in [(1, 1.960), (2, 1.977), (3, 2.004), (4, 2.024), (5, 2.040), (10, 2.087)] {
            let c = equally_spaced(k);
            assert!((c - published).abs() < 0.0015, "{k} looks: C = {c}, published {published}");
        }
    }

    #[test]
    fn one_look_is_the_usual_95_percent_and_early_looks_are_stricter() {
        let one = Looks::new(6, 6);
        assert!((one.confidence(6) - 0.95).abs() < 1e-4, "{}", one.confidence(6));
        let looks = Looks::new(4, 12);
        // C = 2.0976 for looks after rounds 4 to 12 (recursive integration, checked in SciPy).
        assert!((looks.c - 2.0976).abs() < 0.0015, "{}", looks.c);
        let levels: Vec<f64> = (4..=12).map(|n| looks.confidence(n)).collect();
        assert!(levels.windows(2).all(|w| w[0] > w[1]), "{levels:?}");
        assert!(levels[0] > 0.9997 && (0.96..0.97).contains(&levels[8]), "{levels:?}");
    }

    #[test]
    fn repeated_looks_at_the_boundaries_err_five_times_in_a_hundred() {
        // Random walks of 12 rounds with no effect, looked at after rounds 4 to 12 against the
        // boundaries: the share that ever crosses is the overall error.
        let looks = Looks::new(4, 12);
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut uniform = || {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            ((seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let n = std_normal();
        let bounds: Vec<f64> =
            (0..=12).map(|r| n.inverse_cdf(1.0 - (1.0 - looks.confidence(r.max(4))) / 2.0)).collect();
        let walks = 40_000;
        let mut crossed = 0;
        for _ in 0..walks {
            let mut sum = 0.0;
            for round in 1..=12u32 {
                sum += n.inverse_cdf(uniform());
                if round >= 4 {
                    let z = sum / f64::from(round).sqrt();
                    if z.abs() >= bounds[round as usize] {
                        crossed += 1;
                        break;
                    }
                }
            }
        }
        let share = f64::from(crossed) / f64::from(walks);
        // ±3 standard errors of a share of 5% over 40,000 walks.
        assert!((share - 0.05).abs() < 0.0033, "{share}");
    }
}
