//! One module per tab: how it draws and which keys it takes (for the help overlay).

pub mod latents;
pub mod metrics;
pub mod steer;
pub mod train;
pub mod zeroshot;

use super::app::Tab;

/// The keys of a tab, as the help overlay lists them.
pub fn keys(tab: Tab) -> &'static [(&'static str, &'static str)] {
    match tab {
        Tab::Train => train::KEYS,
        Tab::Metrics => metrics::KEYS,
        Tab::Zeroshot => zeroshot::KEYS,
        Tab::Latents => latents::KEYS,
        Tab::Steer => steer::KEYS,
    }
}

/// λ as the tables print it.
pub fn lambda(l: f64) -> String {
    crate::engine::run::format_lambda(l)
}
