//! SHA-256 and SHA-384 as rustls `hash::Hash` implementations (transcript hashing).
//!
//! Owns the bridge from the `sha2` crate to rustls's hash traits; never handles keys
//! and never allocates except for the boxed incremental contexts rustls asks for.

use alloc::boxed::Box;

use rustls::crypto::hash::{Context, Hash, HashAlgorithm, Output};
use sha2::Digest;

/// SHA-256 for rustls.
pub(crate) static SHA256: Sha<sha2::Sha256> = Sha::new(HashAlgorithm::SHA256);
/// SHA-384 for rustls.
pub(crate) static SHA384: Sha<sha2::Sha384> = Sha::new(HashAlgorithm::SHA384);

/// A SHA-2 family hash function `D`, tagged with its TLS name.
pub(crate) struct Sha<D> {
    algorithm: HashAlgorithm,
    _digest: core::marker::PhantomData<fn() -> D>,
}

impl<D> Sha<D> {
    const fn new(algorithm: HashAlgorithm) -> Self {
        Self { algorithm, _digest: core::marker::PhantomData }
    }
}

impl<D> Hash for Sha<D>
where
    D: Digest + Clone + Send + Sync + 'static,
{
    fn start(&self) -> Box<dyn Context> {
        Box::new(ShaContext(D::new()))
    }

    fn hash(&self, data: &[u8]) -> Output {
        Output::new(&D::digest(data))
    }

    fn output_len(&self) -> usize {
        <D as Digest>::output_size()
    }

    fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }
}

/// An in-progress incremental hash.
struct ShaContext<D>(D);

impl<D> Context for ShaContext<D>
where
    D: Digest + Clone + Send + Sync + 'static,
{
    fn fork_finish(&self) -> Output {
        Output::new(&self.0.clone().finalize())
    }

    fn fork(&self) -> Box<dyn Context> {
        Box::new(Self(self.0.clone()))
    }

    fn finish(self: Box<Self>) -> Output {
        Output::new(&self.0.finalize())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use crate::crypto::tests::support::parse;

    /// Message of a case: `msg` repeated `repeat` times (default once).
    fn message(case: &crate::crypto::tests::support::Case) -> Vec<u8> {
        let repeat = case.opt("repeat").map_or(1, |_| case.num("repeat"));
        case.get("msg").repeat(repeat)
    }

    fn check(hash: &dyn Hash, text: &str, expected_cases: usize) {
        let cases = parse(text);
        assert_eq!(cases.len(), expected_cases);
        for case in &cases {
            let msg = message(case);
            let want = case.get("md");
            assert_eq!(hash.hash(&msg).as_ref(), want);
            assert_eq!(hash.output_len(), want.len());

            // Incremental, split in uneven pieces, with fork/fork_finish in between.
            let mut ctx = hash.start();
            let (a, b) = msg.split_at(msg.len() / 3);
            ctx.update(a);
            let forked = ctx.fork();
            ctx.update(b);
            assert_eq!(ctx.fork_finish().as_ref(), want);
            assert_eq!(ctx.finish().as_ref(), want);
            let mut forked = forked;
            forked.update(b);
            assert_eq!(forked.finish().as_ref(), want);
        }
    }

    #[test]
    fn sha256_fips180_vectors() {
        check(&SHA256, include_str!("vectors/sha256.txt"), 4);
        assert_eq!(SHA256.algorithm(), HashAlgorithm::SHA256);
    }

    #[test]
    fn sha384_fips180_vectors() {
        check(&SHA384, include_str!("vectors/sha384.txt"), 4);
        assert_eq!(SHA384.algorithm(), HashAlgorithm::SHA384);
    }
}
