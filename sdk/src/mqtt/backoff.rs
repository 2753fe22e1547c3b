//! Exponential backoff with full jitter.
//!
//! Owns: [`Backoff`], the arithmetic from "how many attempts failed" to "how long to wait".
//!
//! Never: sleeps or reads a clock (it returns milliseconds for the port's [`super::Sleep`]), or
//! draws randomness from anywhere but the injected [`Entropy`].

use crate::crypto::Entropy;

/// Exponential backoff with "full jitter": the wait before retry `n` is uniformly random in
/// `[0, min(cap_ms, base_ms · 2ⁿ)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first wait, in milliseconds.
    pub base_ms: u32,
    /// No wait is longer than this, in milliseconds.
    pub cap_ms: u32,
}

impl Default for Backoff {
    /// 500 ms doubling up to 5 minutes.
    fn default() -> Self {
        Self { base_ms: 500, cap_ms: 300_000 }
    }
}

impl Backoff {
    /// A backoff from `base_ms` up to `cap_ms`.
    pub const fn new(base_ms: u32, cap_ms: u32) -> Self {
        Self { base_ms, cap_ms }
    }

    /// The longest wait before retry `attempt` (0 for the first): `min(cap, base · 2^attempt)`.
    ///
    /// # Panics
    /// Never: the arithmetic saturates.
    pub fn ceiling_ms(&self, attempt: u32) -> u32 {
        let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
        self.base_ms.saturating_mul(factor).min(self.cap_ms)
    }

    /// The wait before retry `attempt`: uniform in `[0, ceiling_ms(attempt)]`. When `entropy`
    /// fails the wait is the whole ceiling, the choice that never shortens a wait.
    pub fn delay_ms<R: Entropy + ?Sized>(&self, attempt: u32, entropy: &R) -> u32 {
        let ceiling = self.ceiling_ms(attempt);
        uniform(entropy, ceiling).unwrap_or(ceiling)
    }

    /// A wait uniform in `[0, window_ms]`: the first reconnect after a healthy connection ended,
    /// spread so that a fleet that lost its broker at once does not return at once. When
    /// `entropy` fails it is the whole window.
    pub fn spread_ms<R: Entropy + ?Sized>(&self, window_ms: u32, entropy: &R) -> u32 {
        uniform(entropy, window_ms).unwrap_or(window_ms)
    }

    /// The wait between attempts that only time may fix (a refusal under
    /// [`super::RefusalPolicy::RetryAtCap`]): uniform in `[cap/2, cap]`, never short.
    pub fn at_cap_ms<R: Entropy + ?Sized>(&self, entropy: &R) -> u32 {
        let half = self.cap_ms / 2;
        let spread = self.cap_ms.saturating_sub(half);
        half.saturating_add(uniform(entropy, spread).unwrap_or(spread))
    }
}

/// A uniformly distributed value in `[0, max]` (multiply-shift, no modulo bias worth naming).
fn uniform<R: Entropy + ?Sized>(entropy: &R, max: u32) -> Option<u32> {
    let mut bytes = [0u8; 4];
    entropy.fill(&mut bytes).ok()?;
    let random = u64::from(u32::from_le_bytes(bytes));
    let span = u64::from(max).saturating_add(1);
    // random < 2^32 and span <= 2^32, so the product fits in u64 and the result is <= max.
    let scaled = random.saturating_mul(span).checked_shr(32).unwrap_or(0);
    Some(u32::try_from(scaled).unwrap_or(max).min(max))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::crypto::EntropyError;

    /// Entropy that always returns the same four bytes, or fails.
    pub(crate) struct Fixed(pub Option<[u8; 4]>);

    impl Entropy for Fixed {
        fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
            let bytes = self.0.ok_or(EntropyError)?;
            for (d, s) in dest.iter_mut().zip(bytes.iter().cycle()) {
                *d = *s;
            }
            Ok(())
        }
    }

    #[test]
    fn ceiling_doubles_up_to_the_cap_without_overflow() {
        let b = Backoff::new(100, 5_000);
        let ceilings: alloc::vec::Vec<u32> = (0..8).map(|n| b.ceiling_ms(n)).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
        assert_eq!(b.ceiling_ms(31), 5_000);
        assert_eq!(b.ceiling_ms(32), 5_000);
        assert_eq!(b.ceiling_ms(u32::MAX), 5_000);
        assert_eq!(Backoff::new(u32::MAX, u32::MAX).ceiling_ms(5), u32::MAX);
        assert_eq!(Backoff::new(0, 1_000).ceiling_ms(10), 0);
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let b = Backoff::new(100, 5_000);
        assert_eq!(b.delay_ms(3, &Fixed(Some([0; 4]))), 0);
        assert_eq!(b.delay_ms(3, &Fixed(Some([0xff; 4]))), 800);
        let half = b.delay_ms(3, &Fixed(Some(0x8000_0000u32.to_le_bytes())));
        assert_eq!(half, 400);
        assert_eq!(Backoff::new(u32::MAX, u32::MAX).delay_ms(0, &Fixed(Some([0xff; 4]))), u32::MAX);
    }

    #[test]
    fn failing_entropy_waits_the_whole_ceiling() {
        let b = Backoff::new(100, 5_000);
        assert_eq!(b.delay_ms(2, &Fixed(None)), 400);
        assert_eq!(b.at_cap_ms(&Fixed(None)), 5_000);
    }

    #[test]
    fn at_cap_waits_between_half_the_cap_and_the_cap() {
        let b = Backoff::new(100, 5_001);
        assert_eq!(b.at_cap_ms(&Fixed(Some([0; 4]))), 2_500);
        assert_eq!(b.at_cap_ms(&Fixed(Some([0xff; 4]))), 5_001);
    }
}
