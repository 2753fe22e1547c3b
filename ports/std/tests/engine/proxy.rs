//! The misbehaving proxy the suites share (flipped bits, dribbled bytes).

pub use anchormq_testbed::proxy::{Mode, start};
