//! The crate's log lines, behind features: `log` (the `log` facade, for hosts) and `defmt` (for
//! firmware); with neither, the macros expand to nothing but an unused `format_args!`, so a
//! default build carries no logging code.
//!
//! Owns: the macros `log_info!`, `log_warn!`, `log_error!` and `log_debug!` the other modules log
//! through (`log_at!` underneath).
//!
//! Never: logs a secret. What is logged is what the `Display` of an `Event`, an error or a
//! connection already says (attempt numbers, delays, server names, reason codes, topics, sizes),
//! never a payload, a password, a key or PSK bytes; a call site passes only such values.
//!
//! With `defmt`, each line is the same sentence, formatted by `core::fmt` on the device
//! (`defmt::Display2Format`): one format for both facades, at the cost of `core::fmt`, which a
//! firmware printing errors with `Display` links already.

// Without a log feature the supervisor's logging adapter is not built, so its macros go unused.
#![cfg_attr(not(any(feature = "log", feature = "defmt")), allow(unused_macros, unused_imports))]

/// Logs at `$level` (a `log` macro name, the same `defmt` one) the sentence `format_args!` makes.
macro_rules! log_at {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(feature = "log")]
        ::log::$level!($($arg)+);
        #[cfg(feature = "defmt")]
        ::defmt::$level!("{}", ::defmt::Display2Format(&format_args!($($arg)+)));
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        let _ = format_args!($($arg)+);
    }};
}

/// What happened as planned: a connection attempt, a connection, a backoff.
macro_rules! log_info {
    ($($arg:tt)+) => { $crate::logging::log_at!(info, $($arg)+) };
}

/// What went wrong and will be retried or worked around: a failed attempt, a refused message,
/// outbox pressure.
macro_rules! log_warn {
    ($($arg:tt)+) => { $crate::logging::log_at!(warn, $($arg)+) };
}

/// What ends the work: the supervisor stopped for good.
macro_rules! log_error {
    ($($arg:tt)+) => { $crate::logging::log_at!(error, $($arg)+) };
}

/// Detail below the supervisor's events: each TLS handshake's outcome.
macro_rules! log_debug {
    ($($arg:tt)+) => { $crate::logging::log_at!(debug, $($arg)+) };
}

pub(crate) use {log_at, log_debug, log_error, log_info, log_warn};

/// The test binary's logger (feature `log`): every line any test logs, kept as `LEVEL sentence`,
/// for the tests that check what is logged and that no secret is.
#[cfg(all(test, feature = "log"))]
#[allow(clippy::unwrap_used)]
pub(crate) mod capture {
    extern crate std;

    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;
    use std::sync::Mutex;

    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }

        fn log(&self, record: &log::Record<'_>) {
            LINES.lock().unwrap().push(format!("{} {}", record.level(), record.args()));
        }

        fn flush(&self) {}
    }

    static CAPTURE: Capture = Capture;

    /// Installs the logger (the first test to call it does; later calls find it in place).
    pub(crate) fn capture() {
        let _ = log::set_logger(&CAPTURE);
        log::set_max_level(log::LevelFilter::Trace);
    }

    /// The first line logged so far that contains `needle`.
    pub(crate) fn logged(needle: &str) -> Option<String> {
        LINES.lock().unwrap().iter().find(|line| line.contains(needle)).cloned()
    }

    /// Every line logged so far.
    pub(crate) fn lines() -> Vec<String> {
        LINES.lock().unwrap().clone()
    }
}
