//! The app's SDKAppID, secret key and admins: from settings, or generated once and persisted.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::settings::Settings;
use crate::state::AppIdentity;

#[derive(Serialize, Deserialize)]
struct Stored {
    sdkappid: u64,
    secret_key: String,
}

/// Resolves the app identity; values missing from settings come from (or are generated
/// into) `<data_dir>/app.json`, so they survive restarts.
pub fn load_or_create(settings: &Settings) -> Result<AppIdentity> {
    let admins: Vec<String> = settings.admins.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
    anyhow::ensure!(!admins.is_empty(), "IMRECEIPTS_ADMINS must name at least one admin identifier");
    if let (Some(sdkappid), Some(secret_key)) = (settings.sdkappid, settings.secret_key.clone()) {
        return Ok(AppIdentity { sdkappid, secret_key, admins });
    }
    let path = settings.data_dir.join("app.json");
    let stored = match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
        Err(_) => create(&path)?,
    };
    Ok(AppIdentity {
        sdkappid: settings.sdkappid.unwrap_or(stored.sdkappid),
        secret_key: settings.secret_key.clone().unwrap_or(stored.secret_key),
        admins,
    })
}

fn create(path: &Path) -> Result<Stored> {
    let mut rng = rand::thread_rng();
    let stored = Stored {
        sdkappid: 1_400_000_000 + rng.gen_range(0..100_000_000u64),
        secret_key: hex::encode(rng.gen::<[u8; 32]>()),
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, serde_json::to_vec_pretty(&stored)?).with_context(|| format!("writing {}", path.display()))?;
    // The secret key signs every UserSig: keep it private to this user.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    Ok(stored)
}
