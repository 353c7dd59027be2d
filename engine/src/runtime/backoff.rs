//! Capped exponential backoff with jitter.

use crate::hooks::HandlerConfig;
use std::time::Duration;

/// The delay after failed attempt `attempt` (1-based): `initial * 2^(attempt-1)`, capped at
/// `max`, then "equal jitter" — a uniformly random point in the upper half (`jitter` in
/// `[0, 1)`). Gaps therefore never shrink from one attempt to the next (until the cap), and
/// workers that failed together do not retry together.
pub fn backoff(attempt: u32, config: &HandlerConfig, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(32);
    let base = config
        .initial_backoff
        .checked_mul(1u32 << exp.min(31))
        .unwrap_or(config.max_backoff)
        .min(config.max_backoff);
    let half = base / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_and_never_shrinks() {
        let config =
            HandlerConfig::default().with_backoff(Duration::from_secs(1), Duration::from_secs(60));
        let mut previous_max = Duration::ZERO;
        for attempt in 1..20 {
            let low = backoff(attempt, &config, 0.0);
            let high = backoff(attempt, &config, 0.999_999);
            assert!(
                low >= previous_max.min(Duration::from_secs(30)),
                "attempt {attempt}: {low:?} < {previous_max:?}"
            );
            assert!(high <= Duration::from_secs(60));
            previous_max = high;
        }
        assert_eq!(backoff(1, &config, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(20, &config, 0.0), Duration::from_secs(30));
    }
}
