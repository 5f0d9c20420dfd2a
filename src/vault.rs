//! Secrets at rest: AES-256-GCM under a key from settings, stored as
//! `v1:<key-id>:<base64(nonce || ciphertext)>` so a rotation can tell which key sealed a value.

use std::fmt;
use std::str::FromStr;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Prefix of the current storage format.
const V1: &str = "v1";
/// AES-GCM's standard nonce length.
const NONCE_LEN: usize = 12;
/// The authentication tag every ciphertext carries.
const TAG_LEN: usize = 16;

/// A 32-byte encryption key (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl Key {
    /// A new random key.
    pub fn generate() -> Key {
        Key(Aes256Gcm::generate_key(&mut OsRng).into())
    }

    /// The key as standard base64 (what `IMRECEIPTS_SECRETS_KEY` and `app.json` hold).
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// A short public fingerprint naming the key in stored values and messages.
    pub fn id(&self) -> String {
        let digest = Sha256::new().chain_update(b"imreceipts secrets key id\0").chain_update(self.0).finalize();
        hex::encode(&digest[..4])
    }
}

impl FromStr for Key {
    type Err = String;

    /// Hex (64 digits) or base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
    fn from_str(s: &str) -> Result<Key, String> {
        let s = s.trim();
        let bytes = if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(s).map_err(|e| e.to_string())?
        } else {
            let unpadded = s.trim_end_matches('=');
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(unpadded)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(unpadded))
                .map_err(|_| "a secrets key must be 32 bytes as 64 hex digits or as base64".to_string())?
        };
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("a secrets key must be 32 bytes (AES-256), this one has {}", b.len()))?;
        Ok(Key(arr))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(id {})", self.id())
    }
}

/// A decrypted secret; its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a plain value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The plain value, for the few places that need it (signing, the admin API).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why a stored value cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The value is not in the sealed format (plain text from before encryption).
    #[error("the value is not encrypted")]
    NotSealed,
    /// Sealed with a key this process was not given.
    #[error(
        "it was encrypted with key {id}, which is neither IMRECEIPTS_SECRETS_KEY (key {current}) nor in \
         IMRECEIPTS_SECRETS_KEY_PREVIOUS; start with the key that encrypted it (as IMRECEIPTS_SECRETS_KEY_PREVIOUS \
         during a rotation)"
    )]
    UnknownKey { id: String, current: String },
    /// The key id matches but the value does not authenticate.
    #[error("it does not decrypt with key {id}: the key is wrong or the stored value was altered")]
    Corrupt { id: String },
}

/// The current key (encrypts and decrypts) and previous ones (decrypt only).
#[derive(Clone, Debug)]
pub struct Keyring {
    current: Key,
    previous: Vec<Key>,
}

/// A stored value split into its parts.
struct Sealed<'a> {
    key_id: &'a str,
    blob: Vec<u8>,
}

fn parse(stored: &str) -> Option<Sealed<'_>> {
    let mut parts = stored.splitn(3, ':');
    let (v, key_id, b64) = (parts.next()?, parts.next()?, parts.next()?);
    if v != V1 || key_id.len() != 8 || !key_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let blob = B64.decode(b64).ok()?;
    (blob.len() >= NONCE_LEN + TAG_LEN).then_some(Sealed { key_id, blob })
}

impl Keyring {
    /// A keyring encrypting with `current`.
    pub fn new(current: Key, previous: Vec<Key>) -> Keyring {
        let previous = previous.into_iter().filter(|k| *k != current).collect();
        Keyring { current, previous }
    }

    /// The id of the key that encrypts.
    pub fn current_id(&self) -> String {
        self.current.id()
    }

    /// Encrypts `plain`; `purpose` (e.g. the column) is authenticated, so a value copied to
    /// another column does not open there.
    pub fn seal(&self, purpose: &str, plain: &str) -> String {
        let cipher = Aes256Gcm::new(&self.current.0.into());
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption fails only for inputs beyond GCM's 64 GiB limit; secrets are tiny.
        let ct = cipher.encrypt(&nonce, Payload { msg: plain.as_bytes(), aad: purpose.as_bytes() }).unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("{V1}:{}:{}", self.current.id(), B64.encode(blob))
    }

    /// Decrypts a value made by [`Keyring::seal`] under any key of the ring.
    pub fn open(&self, purpose: &str, stored: &str) -> Result<Secret, VaultError> {
        let sealed = parse(stored).ok_or(VaultError::NotSealed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id() == sealed.key_id)
            .ok_or_else(|| VaultError::UnknownKey { id: sealed.key_id.to_string(), current: self.current.id() })?;
        let corrupt = || VaultError::Corrupt { id: sealed.key_id.to_string() };
        let (nonce, ct) = sealed.blob.split_at(NONCE_LEN);
        let plain = Aes256Gcm::new(&key.0.into())
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: purpose.as_bytes() })
            .map_err(|_| corrupt())?;
        String::from_utf8(plain).map(Secret).map_err(|_| corrupt())
    }

    /// Whether a stored value is sealed with the current key (otherwise it is re-sealed).
    pub fn is_current(&self, stored: &str) -> bool {
        parse(stored).is_some_and(|s| s.key_id == self.current.id())
    }

    /// Whether `stored` is in the sealed format at all.
    pub fn is_sealed(stored: &str) -> bool {
        parse(stored).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new(Key::generate(), vec![])
    }

    #[test]
    fn round_trip_hides_the_value_and_names_the_key() {
        let r = ring();
        let s = r.seal("col", "whsec_abc");
        assert!(!s.contains("whsec_abc"));
        assert!(s.starts_with(&format!("v1:{}:", r.current_id())), "{s}");
        assert_ne!(s, r.seal("col", "whsec_abc"), "a fresh nonce every time");
        assert_eq!(r.open("col", &s).unwrap().expose(), "whsec_abc");
        assert!(r.is_current(&s) && Keyring::is_sealed(&s));
    }

    #[test]
    fn wrong_key_purpose_or_tampering_never_yields_a_value() {
        let r = ring();
        let s = r.seal("col", "whsec_abc");
        let other = ring();
        assert!(matches!(other.open("col", &s), Err(VaultError::UnknownKey { .. })));
        assert!(matches!(r.open("other", &s), Err(VaultError::Corrupt { .. })));
        let mut blob = B64.decode(s.rsplit(':').next().unwrap()).unwrap();
        blob[NONCE_LEN] ^= 1;
        let tampered = format!("v1:{}:{}", r.current_id(), B64.encode(blob));
        assert!(matches!(r.open("col", &tampered), Err(VaultError::Corrupt { .. })));
        assert_eq!(r.open("col", "whsec_plain"), Err(VaultError::NotSealed));
        assert!(!Keyring::is_sealed("whsec_plain") && !Keyring::is_sealed("v1:nothex!!:AAAA"));
    }

    #[test]
    fn previous_keys_open_but_do_not_seal() {
        let old = ring();
        let s = old.seal("col", "tok");
        let new = Keyring::new(Key::generate(), vec![old.current.clone()]);
        assert_eq!(new.open("col", &s).unwrap().expose(), "tok");
        assert!(!new.is_current(&s));
        assert!(new.is_current(&new.seal("col", "tok")));
    }

    #[test]
    fn keys_parse_from_hex_or_base64_of_32_bytes() {
        let k = Key::generate();
        assert_eq!(k.to_base64().parse::<Key>().unwrap(), k);
        assert_eq!(hex::encode(k.0).parse::<Key>().unwrap(), k);
        assert_eq!(k.to_base64().trim_end_matches('=').parse::<Key>().unwrap(), k);
        assert!("abcd".parse::<Key>().unwrap_err().contains("32 bytes"));
        assert!(B64.encode([0u8; 16]).parse::<Key>().unwrap_err().contains("has 16"));
    }

    #[test]
    fn debug_never_shows_key_or_secret_material() {
        let k = Key::generate();
        let r = Keyring::new(k.clone(), vec![]);
        let shown = format!("{k:?} {r:?} {:?}", Secret::new("whsec_topsecret"));
        assert!(!shown.contains(&k.to_base64()) && !shown.contains(&hex::encode(k.0)));
        assert!(!shown.contains("topsecret"), "{shown}");
    }
}
