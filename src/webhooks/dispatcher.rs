//! placeholder
use crate::settings::WebhookSettings;
use crate::state::AppState;
pub struct Handle;
impl Handle { pub async fn shutdown(self) {} }
pub fn start(_s: AppState, _u: String, _c: WebhookSettings) -> Handle { Handle }
