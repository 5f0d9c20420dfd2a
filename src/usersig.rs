//! UserSig (TLSSigAPIv2) generation and verification, compatible with Tencent's libraries.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// Inflated UserSigs larger than this are refused: a real one is a few hundred bytes.
const MAX_INFLATED: u64 = 16 * 1024;
/// Seconds a UserSig's `TLS.time` may lie ahead of this server's clock (the signing server's
/// clock may run a little fast); a sig from further in the future is refused, so a leaked
/// signing key cannot mint sigs that stay valid long after it is rotated.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// The fields of a decoded UserSig.
#[derive(Debug, Deserialize)]
pub struct SigDoc {
    #[serde(rename = "TLS.identifier")]
    identifier: String,
    #[serde(rename = "TLS.sdkappid")]
    sdkappid: u64,
    #[serde(rename = "TLS.time")]
    time: i64,
    #[serde(rename = "TLS.expire")]
    expire: i64,
    #[serde(rename = "TLS.userbuf", default)]
    userbuf: Option<String>,
    #[serde(rename = "TLS.sig")]
    sig: String,
}

/// Builds the exact string the HMAC covers (each line ends with `\n`).
fn content(identifier: &str, sdkappid: u64, time: i64, expire: i64, userbuf: Option<&str>) -> String {
    let mut s = format!("TLS.identifier:{identifier}\nTLS.sdkappid:{sdkappid}\nTLS.time:{time}\nTLS.expire:{expire}\n");
    if let Some(buf) = userbuf {
        s.push_str(&format!("TLS.userbuf:{buf}\n"));
    }
    s
}

fn mac(key: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length")
}

/// Computes `TLS.sig`: base64(HMAC-SHA256(key, content)).
pub fn compute_sig(key: &str, identifier: &str, sdkappid: u64, time: i64, expire: i64) -> String {
    let mut m = mac(key);
    m.update(content(identifier, sdkappid, time, expire, None).as_bytes());
    STANDARD.encode(m.finalize().into_bytes())
}

/// Generates a UserSig valid for `expire` seconds from `time`.
pub fn generate(key: &str, sdkappid: u64, identifier: &str, time: i64, expire: i64) -> String {
    let doc = serde_json::json!({
        "TLS.ver": "2.0",
        "TLS.identifier": identifier,
        "TLS.sdkappid": sdkappid,
        "TLS.expire": expire,
        "TLS.time": time,
        "TLS.sig": compute_sig(key, identifier, sdkappid, time, expire),
    });
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail.
    enc.write_all(doc.to_string().as_bytes()).expect("write to Vec");
    let compressed = enc.finish().expect("finish to Vec");
    STANDARD
        .encode(compressed)
        .chars()
        .map(|c| match c {
            '+' => '*',
            '/' => '-',
            '=' => '_',
            c => c,
        })
        .collect()
}

/// Decodes a UserSig into its JSON document without checking it.
pub fn decode(usersig: &str) -> Result<SigDoc, ApiError> {
    let b64: String = usersig
        .chars()
        .map(|c| match c {
            '*' => '+',
            '-' => '/',
            '_' => '=',
            c => c,
        })
        .collect();
    let raw = STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| ApiError::SigDecode(format!("not base64 ({e}); was it truncated?")))?;
    let mut json = Vec::new();
    ZlibDecoder::new(raw.as_slice())
        .take(MAX_INFLATED)
        .read_to_end(&mut json)
        .map_err(|e| ApiError::SigDecode(format!("not a zlib stream ({e})")))?;
    serde_json::from_slice(&json)
        .map_err(|e| ApiError::SigDecode(format!("inner JSON is not a TLS sig document ({e})")))
}

/// Verifies `usersig` for (`sdkappid`, `identifier`) at unix time `now`.
pub fn verify(key: &str, sdkappid: u64, identifier: &str, usersig: &str, now: i64) -> Result<(), ApiError> {
    verify_doc(key, sdkappid, identifier, usersig, now).map(|_| ())
}

/// [`verify`], returning the verified document.
fn verify_doc(key: &str, sdkappid: u64, identifier: &str, usersig: &str, now: i64) -> Result<SigDoc, ApiError> {
    let doc = decode(usersig)?;
    if doc.sdkappid != sdkappid {
        return Err(ApiError::AppIdMismatch(doc.sdkappid));
    }
    if doc.identifier != identifier {
        return Err(ApiError::IdentifierMismatch(identifier.to_string(), doc.identifier));
    }
    let expected = STANDARD.decode(doc.sig.as_bytes()).map_err(|_| ApiError::SigMismatch)?;
    let mut m = mac(key);
    m.update(content(&doc.identifier, doc.sdkappid, doc.time, doc.expire, doc.userbuf.as_deref()).as_bytes());
    m.verify_slice(&expected).map_err(|_| ApiError::SigMismatch)?;
    check_window(doc.time, doc.time.saturating_add(doc.expire), now)?;
    Ok(doc)
}

/// Refuses a sig issued beyond the clock skew in the future, or expired.
fn check_window(time: i64, expires_at: i64, now: i64) -> Result<(), ApiError> {
    if time > now.saturating_add(CLOCK_SKEW_SECS) {
        return Err(ApiError::SigFromFuture(time - now));
    }
    if now > expires_at {
        return Err(ApiError::SigExpired(expires_at));
    }
    Ok(())
}

/// Verified UserSigs, so a client that reuses its sig does not pay zlib and HMAC per call.
///
/// Keyed by the exact (identifier, sig) pair that verified; a hit still checks the sig's
/// validity window against the current time. Bounded: when full, expired entries go, and if
/// none had expired the whole cache is dropped (it refills from the next calls).
pub struct VerifiedCache {
    entries: std::sync::Mutex<std::collections::HashMap<(String, String), (i64, i64)>>,
    capacity: usize,
}

impl VerifiedCache {
    /// A cache of at most `capacity` sigs.
    pub fn new(capacity: usize) -> VerifiedCache {
        VerifiedCache { entries: Default::default(), capacity }
    }

    /// [`verify`], answered from the cache when this exact sig verified before.
    pub fn verify(&self, key: &str, sdkappid: u64, identifier: &str, usersig: &str, now: i64) -> Result<(), ApiError> {
        let cached = self.lock().get(&(identifier.to_string(), usersig.to_string())).copied();
        if let Some((time, expires_at)) = cached {
            return check_window(time, expires_at, now);
        }
        let doc = verify_doc(key, sdkappid, identifier, usersig, now)?;
        if self.capacity > 0 {
            let mut entries = self.lock();
            if entries.len() >= self.capacity {
                entries.retain(|_, (_, expires_at)| *expires_at >= now);
                if entries.len() >= self.capacity {
                    entries.clear();
                }
            }
            entries
                .insert((identifier.to_string(), usersig.to_string()), (doc.time, doc.time.saturating_add(doc.expire)));
        }
        Ok(())
    }

    /// How many sigs are cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no sig is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<(String, String), (i64, i64)>> {
        // The map stays consistent even if a holder panicked.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
    const VECTOR_SIG: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpYJkTE1NjRDiJZm5YFFzNPXFmekgG3zKHM1T9D3LzdODi-OKs8vCqpxcAvydnV2SSv2cy03cPcpDnA2SMgu0nUxslWoBHdYzUg__";

    #[test]
    fn reference_test_vector() {
        assert_eq!(
            compute_sig(KEY, "xiaojun", 1400000000, 1700000000, 15552000),
            "LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4="
        );
        // The Python-made UserSig (spaced JSON, other key order) verifies inside its window...
        verify(KEY, 1400000000, "xiaojun", VECTOR_SIG, 1700000000 + 10).unwrap();
        // ...and is expired one second after time + expire.
        let err = verify(KEY, 1400000000, "xiaojun", VECTOR_SIG, 1700000000 + 15552001);
        assert!(matches!(err, Err(ApiError::SigExpired(1715552000))));
    }

    #[test]
    fn refuses_sigs_from_the_future_beyond_the_skew() {
        let t = 1700000000;
        let sig = generate(KEY, 1400000000, "bob", t, 86400);
        // Signed by a clock up to five minutes fast: accepted.
        verify(KEY, 1400000000, "bob", &sig, t - CLOCK_SKEW_SECS).unwrap();
        // Signed "ten years from now": refused although it has not expired.
        let err = verify(KEY, 1400000000, "bob", &sig, t - CLOCK_SKEW_SECS - 1);
        assert!(matches!(err, Err(ApiError::SigFromFuture(301))), "{err:?}");
        let far = generate(KEY, 1400000000, "bob", t + 10 * 365 * 86400, 86400);
        assert!(matches!(verify(KEY, 1400000000, "bob", &far, t), Err(ApiError::SigFromFuture(_))));
    }

    fn recompress(doc: &str, level: Compression) -> String {
        let mut enc = ZlibEncoder::new(Vec::new(), level);
        enc.write_all(doc.as_bytes()).unwrap();
        STANDARD.encode(enc.finish().unwrap()).replace('+', "*").replace('/', "-").replace('=', "_")
    }

    #[test]
    fn accepts_other_key_order_spacing_and_zlib_level() {
        let sig = compute_sig(KEY, "bob", 1400000000, 1700000000, 100);
        let doc = format!(
            "{{\n  \"TLS.sig\" : \"{sig}\", \"TLS.time\": 1700000000,\"TLS.expire\":100,\n\"TLS.sdkappid\":1400000000,\"TLS.identifier\":\"bob\",\"TLS.ver\":\"2.0\"}}\n"
        );
        for level in [Compression::none(), Compression::fast(), Compression::best()] {
            verify(KEY, 1400000000, "bob", &recompress(&doc, level), 1700000050).unwrap();
        }
    }

    #[test]
    fn rejects_each_kind_of_bad_sig() {
        let good = generate(KEY, 1400000000, "bob", 1700000000, 100);
        verify(KEY, 1400000000, "bob", &good, 1700000000).unwrap();
        assert!(matches!(verify("other", 1400000000, "bob", &good, 1700000000), Err(ApiError::SigMismatch)));
        assert!(matches!(verify(KEY, 1400000001, "bob", &good, 1700000000), Err(ApiError::AppIdMismatch(_))));
        assert!(matches!(verify(KEY, 1400000000, "eve", &good, 1700000000), Err(ApiError::IdentifierMismatch(..))));
        assert!(matches!(verify(KEY, 1400000000, "bob", &good[..20], 1700000000), Err(ApiError::SigDecode(_))));
        assert!(matches!(verify(KEY, 1400000000, "bob", "!!!", 1700000000), Err(ApiError::SigDecode(_))));
        let tampered = recompress(
            &format!("{{\"TLS.sig\":\"{}\",\"TLS.time\":1700000000,\"TLS.expire\":999999,\"TLS.sdkappid\":1400000000,\"TLS.identifier\":\"bob\"}}",
                compute_sig(KEY, "bob", 1400000000, 1700000000, 100)),
            Compression::default(),
        );
        assert!(matches!(verify(KEY, 1400000000, "bob", &tampered, 1700000000), Err(ApiError::SigMismatch)));
    }

    #[test]
    fn cached_sigs_still_expire_and_other_sigs_are_verified_in_full() {
        let cache = VerifiedCache::new(2);
        let sig = generate(KEY, 1400000000, "alice", 1_000, 100);
        cache.verify(KEY, 1400000000, "alice", &sig, 1_050).unwrap();
        assert_eq!(cache.len(), 1);
        // A hit is still bound to the sig's window.
        cache.verify(KEY, 1400000000, "alice", &sig, 1_099).unwrap();
        assert!(matches!(cache.verify(KEY, 1400000000, "alice", &sig, 1_101), Err(ApiError::SigExpired(1_100))));
        // The same sig under another identifier, or a sig of another key, is not a hit.
        assert!(matches!(cache.verify(KEY, 1400000000, "bob", &sig, 1_050), Err(ApiError::IdentifierMismatch(..))));
        let forged = generate("other key", 1400000000, "alice", 1_000, 100);
        assert!(matches!(cache.verify(KEY, 1400000000, "alice", &forged, 1_050), Err(ApiError::SigMismatch)));
        // Bounded: a full cache drops expired entries, then everything, before inserting.
        for (i, who) in ["b", "c", "d"].iter().enumerate() {
            let s = generate(KEY, 1400000000, who, 1_000 + i as i64, 100);
            cache.verify(KEY, 1400000000, who, &s, 1_050).unwrap();
            assert!(cache.len() <= 2);
        }
    }
}
