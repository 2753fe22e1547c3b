//! The ESP32-C3's hardware random number generator as anchormq's [`Entropy`].
//!
//! Owns: [`TrngEntropy`].
//!
//! Never: returns bytes while no entropy source feeds the generator. The C3's RNG mixes physical
//! noise into its state only while the radio runs (esp-radio's Wi-Fi or BLE) or while an esp-hal
//! `TrngSource` holds the SAR ADC; otherwise its output is only pseudo-random (esp-hal's `rng`
//! docs, ESP32-C3 TRM §"Random Number Generator"). esp-hal counts the active sources, and
//! `Trng::try_new` fails when there are none: so does [`TrngEntropy::fill`].

use anchormq::crypto::{Entropy, EntropyError};
use esp_hal::rng::{Trng, TrngSource};

/// The chip's true random number generator. A zero-sized handle: use it by value (the MQTT
/// supervisor) or as `&'static` (`EmbeddedConfig`), as many times as needed.
///
/// # Security
/// Keep an entropy source running for as long as randomness is needed: Wi-Fi (esp-radio counts
/// itself as one while it is started) or, to have randomness before the radio starts or after it
/// stops, an esp-hal `TrngSource` kept alive for the program's lifetime. Without one, every
/// [`Entropy::fill`] fails, and so does every TLS handshake: closed, never weak.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrngEntropy;

impl TrngEntropy {
    /// Whether an entropy source is running now, so [`Entropy::fill`] would succeed.
    pub fn is_ready(&self) -> bool {
        TrngSource::is_enabled()
    }
}

impl Entropy for TrngEntropy {
    /// # Errors
    /// [`EntropyError`] when no entropy source runs (see the type's docs).
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        // `try_new` registers a user of the generator, so the source cannot be switched off while
        // these bytes are read; the registration ends when `trng` is dropped.
        let trng = Trng::try_new().map_err(|_| EntropyError)?;
        trng.read(dest);
        Ok(())
    }
}
