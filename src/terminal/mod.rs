//! The terminal the binary runs in: what it is, what it draws and its background colour, asked
//! once with escape sequences ([`ask`]), and the keys typed while it answered ([`typed`]).

mod answers;
mod ask;
pub mod typed;

pub use answers::Answers;
pub use ask::{ask, QuietInput};

#[cfg(test)]
pub(crate) mod recorded;
#[cfg(test)]
mod tests;
