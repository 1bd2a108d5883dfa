//! A trainer's whole state, copied to the host: what a checkpoint holds and what every trainer
//! (CPU, candle, any family) gives and is resumed from.

use super::adam::Adam;
use super::family_state::FamilyState;
use super::params::SaeParams;

/// A trainer's whole state, on the host: what a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub params: SaeParams,
    pub adam: Adam,
    /// The family's state (None for ReLU).
    pub family: Option<FamilyState>,
}
