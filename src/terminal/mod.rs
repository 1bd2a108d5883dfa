//! The terminal the binary runs in: what it is, what it draws, its background.

#[cfg(test)]
pub(crate) mod recorded;
#[cfg(test)]
mod tests;
