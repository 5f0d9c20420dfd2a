//! The app's SDKAppID, secret key, admins and secrets key: from settings, or generated once and
//! persisted in `<data_dir>/app.json` (mode 0600).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::settings::Settings;
use crate::state::AppIdentity;
use crate::vault::{Key, Keyring};

#[derive(Serialize, Deserialize)]
struct Stored {
    sdkappid: u64,
    secret_key: String,
    /// Base64 key sealing webhook secrets at rest (absent in files from before encryption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secrets_key: Option<String>,
}

/// Resolves the app identity; values missing from settings come from (or are generated
/// into) `<data_dir>/app.json`, so they survive restarts.
pub fn load_or_create(settings: &Settings) -> Result<AppIdentity> {
    let admins: Vec<String> = settings.admins.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
    anyhow::ensure!(!admins.is_empty(), "IMRECEIPTS_ADMINS must name at least one admin identifier");
    if let (Some(sdkappid), Some(secret_key)) = (settings.sdkappid, settings.secret_key.clone()) {
        return Ok(AppIdentity { sdkappid, secret_key, admins });
    }
    let stored = load(&settings.data_dir.join("app.json"))?;
    Ok(AppIdentity {
        sdkappid: settings.sdkappid.unwrap_or(stored.sdkappid),
        secret_key: settings.secret_key.clone().unwrap_or(stored.secret_key),
        admins,
    })
}

/// The keys sealing webhook secrets: `IMRECEIPTS_SECRETS_KEY` (and `..._PREVIOUS`), or the key
/// kept in `app.json`, generated on first use.
pub fn secrets_keyring(settings: &Settings) -> Result<Keyring> {
    let previous = settings.secrets_key_previous.clone();
    if let Some(key) = &settings.secrets_key {
        return Ok(Keyring::new(key.clone(), previous));
    }
    let path = settings.data_dir.join("app.json");
    let mut stored = load(&path)?;
    let key = match &stored.secrets_key {
        Some(text) => text.parse::<Key>().map_err(|e| anyhow::anyhow!("secrets_key in {}: {e}", path.display()))?,
        None => {
            let key = Key::generate();
            stored.secrets_key = Some(key.to_base64());
            write_private(&path, &stored)?;
            tracing::info!(key_id = %key.id(), path = %path.display(), "generated the key sealing webhook secrets");
            key
        }
    };
    Ok(Keyring::new(key, previous))
}

/// Reads `app.json` (tightening a too-open mode to 0600), or creates it.
fn load(path: &Path) -> Result<Stored> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return create(path),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mode = fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "app credentials were readable by others; set to 0600");
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {} to 0600", path.display()))?;
    }
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn create(path: &Path) -> Result<Stored> {
    let mut rng = rand::thread_rng();
    let stored = Stored {
        sdkappid: 1_400_000_000 + rng.gen_range(0..100_000_000u64),
        secret_key: hex::encode(rng.gen::<[u8; 32]>()),
        secrets_key: Some(Key::generate().to_base64()),
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    write_private(path, &stored)?;
    Ok(stored)
}

/// Writes `stored` to `path` atomically, the file never readable by others (not even briefly:
/// it is created 0600 before anything is written).
fn write_private(path: &Path, stored: &Stored) -> Result<()> {
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(stored)?)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().with_context(|| format!("writing {}", path.display()))
}
