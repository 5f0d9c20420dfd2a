//! One module per console page family.

pub mod assets;
pub mod deliveries;
pub mod inspect;
pub mod overview;
pub mod settings;
pub mod signin;
pub mod webhooks;
