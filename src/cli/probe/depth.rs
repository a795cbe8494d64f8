//! How thorough a probe is, and what that means for the requests it makes.

/// How thorough a probe is: `--quick`, the default, `--full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Depth {
    Quick,
    Standard,
    Full,
}

impl Depth {
    /// Models probed when `--models` does not say.
    pub(super) fn max_models(self) -> usize {
        match self {
            Depth::Quick => 1,
            Depth::Standard => 3,
            Depth::Full => usize::MAX,
        }
    }
    /// Output tokens of each timed request.
    pub(super) fn tokens(self) -> u32 {
        match self {
            Depth::Quick => 32,
            Depth::Standard | Depth::Full => 64,
        }
    }
    /// Requests of a model's baseline (after one warm-up).
    pub(super) fn iterations(self) -> u32 {
        match self {
            Depth::Quick => 5,
            Depth::Standard => 10,
            Depth::Full => 20,
        }
    }
    /// The concurrency sweep that looks for the server's parallel slots: its levels, requests
    /// per level and round, and the interleaved rounds they are run in (up the levels, down,
    /// up...), at least `min` and then until the knee is decided, at most `max`. A round needs
    /// `2c + 4` requests at its top level `c` (the knee leaves out a round's first and last
    /// `c`), so 20 at 8 and 36 at 16; each level is compared with the best level over the same
    /// rounds (`perf::knee::of_rounds`), so a slow stretch of the server falls on every level
    /// alike — one pass per level named a wrong knee on a real llama-server, and four rounds
    /// left its knee open in most sweeps.
    pub(super) fn sweep(self) -> Sweep {
        match self {
            Depth::Quick => Sweep { levels: &[1, 2, 4, 8], min: 4, max: 8, per_round: 20, tokens: 16 },
            Depth::Standard => Sweep { levels: &[1, 2, 4, 8], min: 4, max: 12, per_round: 20, tokens: 32 },
            Depth::Full => Sweep { levels: &[1, 2, 4, 8, 16], min: 6, max: 16, per_round: 36, tokens: 32 },
        }
    }
    /// The whole probe's time limit (`--max-time`).
    pub(super) fn max_time(self) -> std::time::Duration {
        std::time::Duration::from_secs(match self {
            Depth::Quick => 5 * 60,
            Depth::Standard => 20 * 60,
            Depth::Full => 90 * 60,
        })
    }
}

/// A concurrency sweep the probe runs.
pub(super) struct Sweep {
    pub(super) levels: &'static [u32],
    /// Rounds at least, and at most while the knee is not decided.
    pub(super) min: u32,
    pub(super) max: u32,
    /// Requests of each level in each round.
    pub(super) per_round: u32,
    /// Output tokens of each request: short, so enough rounds fit in the probe's time.
    pub(super) tokens: u32,
}
