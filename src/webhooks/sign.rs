//! Standard Webhooks v1 signatures for outgoing deliveries, plus Tencent's callback `Sign`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Prefix that marks a Standard Webhooks symmetric secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Largest accepted gap, in seconds, between a signed timestamp and the verifier's clock.
pub const TOLERANCE_SECS: u64 = 300;

/// Reasons signing or verification can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The secret is not base64 (after an optional `whsec_` prefix), or decodes to nothing.
    #[error("webhook secret is not valid base64 key material")]
    BadSecret,
    /// The timestamp header is not an integer number of seconds.
    #[error("webhook timestamp header is not an integer")]
    BadTimestamp,
    /// The signature header holds no `version,signature` entry at all.
    #[error("webhook signature header is empty or malformed")]
    BadSignature,
    /// The timestamp is further than [`TOLERANCE_SECS`] from the verifier's clock.
    #[error("webhook timestamp is outside the {TOLERANCE_SECS} s tolerance")]
    TimestampOutOfTolerance,
    /// No `v1` entry in the signature header matches the payload.
    #[error("no matching webhook signature")]
    NoMatchingSignature,
}

/// Returns a fresh `whsec_`-prefixed secret holding 32 random bytes.
pub fn generate_secret() -> String {
    let mut key = [0u8; 32];
    // The OS generator is used directly so secrets never depend on a userspace PRNG's seeding.
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

fn decode_secret(secret: &str) -> Result<Vec<u8>, SignError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let key = STANDARD.decode(encoded).map_err(|_| SignError::BadSecret)?;
    // HMAC accepts an empty key, but that would make every signature forgeable.
    if key.is_empty() {
        return Err(SignError::BadSecret);
    }
    Ok(key)
}

fn mac_for(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Result<HmacSha256, SignError> {
    let key = decode_secret(secret)?;
    let mut mac = HmacSha256::new_from_slice(&key).map_err(|_| SignError::BadSecret)?;
    // Fed piecewise so large bodies are not copied just to build the signed content.
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// Signs `{msg_id}.{timestamp}.{body}` and returns `v1,<base64 HMAC-SHA256>`.
///
/// `secret` may carry the `whsec_` prefix or be bare base64.
pub fn sign_v1(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignError> {
    let tag = mac_for(secret, msg_id, timestamp, body)?.finalize().into_bytes();
    Ok(format!("v1,{}", STANDARD.encode(tag)))
}

/// Builds a `webhook-signature` header value with one `v1` entry per secret.
///
/// Several secrets are signed during key rotation so receivers holding either key accept the
/// delivery. An empty `secrets` slice is rejected as [`SignError::BadSecret`] because the
/// resulting header could never verify.
pub fn signature_header(secrets: &[&str], msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignError> {
    if secrets.is_empty() {
        return Err(SignError::BadSecret);
    }
    let entries =
        secrets.iter().map(|secret| sign_v1(secret, msg_id, timestamp, body)).collect::<Result<Vec<_>, _>>()?;
    Ok(entries.join(" "))
}

/// Verifies a Standard Webhooks delivery against one secret.
///
/// Every space-separated entry of `signature_header` is tried; entries with versions other
/// than `v1` and undecodable signatures are skipped. `now` is Unix seconds; timestamps more
/// than [`TOLERANCE_SECS`] away in either direction are rejected to limit replays.
pub fn verify(
    secret: &str,
    msg_id: &str,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignError> {
    let timestamp: i64 = timestamp_header.trim().parse().map_err(|_| SignError::BadTimestamp)?;
    // Checked before the MAC so stale replays are refused without any crypto work.
    if now.abs_diff(timestamp) > TOLERANCE_SECS {
        return Err(SignError::TimestampOutOfTolerance);
    }
    let mac = mac_for(secret, msg_id, timestamp, body)?;

    let mut saw_entry = false;
    for entry in signature_header.split_whitespace() {
        let Some((version, encoded)) = entry.split_once(',') else {
            continue;
        };
        saw_entry = true;
        // Unknown versions are ignored so senders can add new schemes alongside v1.
        if version != "v1" {
            continue;
        }
        let Ok(candidate) = STANDARD.decode(encoded) else {
            continue;
        };
        // verify_slice compares in constant time, so timing leaks nothing about the tag.
        if mac.clone().verify_slice(&candidate).is_ok() {
            return Ok(());
        }
    }
    if saw_entry {
        Err(SignError::NoMatchingSignature)
    } else {
        Err(SignError::BadSignature)
    }
}

/// Computes Tencent Cloud Chat's callback `Sign`: lowercase hex SHA-256 of `token` followed by
/// the decimal `request_time`.
pub fn tencent_sign(token: &str, request_time: i64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(token.as_bytes());
    hasher.update(request_time.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const A_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const A_TS: i64 = 1614265330;
    const A_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const A_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const A_BAD_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";

    const B_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const B_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const B_TS: i64 = 1649367553;
    const B_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const B_SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    const B_WRONG: [&str; 3] = [
        "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ=",
        "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=",
        "v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE=",
    ];

    fn verify_b(sig_header: &str, now: i64) -> Result<(), SignError> {
        verify(B_SECRET, B_ID, &B_TS.to_string(), sig_header, B_BODY, now)
    }

    #[test]
    fn vector_a_signs_and_verifies() {
        assert_eq!(sign_v1(A_SECRET, A_ID, A_TS, A_BODY).unwrap(), A_SIG);
        assert_eq!(verify(A_SECRET, A_ID, "1614265330", A_SIG, A_BODY, A_TS), Ok(()));
    }

    #[test]
    fn vector_a_negative_fails() {
        assert_eq!(verify(A_SECRET, A_ID, "1614265330", A_BAD_SIG, A_BODY, A_TS), Err(SignError::NoMatchingSignature));
    }

    #[test]
    fn vector_b_signs_and_verifies() {
        assert_eq!(sign_v1(B_SECRET, B_ID, B_TS, B_BODY).unwrap(), B_SIG);
        assert_eq!(verify_b(B_SIG, B_TS), Ok(()));
    }

    #[test]
    fn vector_b_wrong_signatures_are_skipped() {
        for wrong in B_WRONG {
            assert_eq!(verify_b(wrong, B_TS), Err(SignError::NoMatchingSignature));
        }
        assert_eq!(verify_b(&B_WRONG.join(" "), B_TS), Err(SignError::NoMatchingSignature));
        let header = format!("{} {} {} {}", B_WRONG[0], B_WRONG[1], B_SIG, B_WRONG[2]);
        assert_eq!(verify_b(&header, B_TS), Ok(()));
        let header = format!("{} {B_SIG}", B_WRONG.join(" "));
        assert_eq!(verify_b(&header, B_TS), Ok(()));
    }

    #[test]
    fn unknown_versions_are_ignored() {
        let v2 = B_SIG.replacen("v1,", "v2,", 1);
        assert_eq!(verify_b(&v2, B_TS), Err(SignError::NoMatchingSignature));
        assert_eq!(verify_b(&format!("{v2} {B_SIG}"), B_TS), Ok(()));
    }

    #[test]
    fn malformed_headers_are_rejected() {
        assert_eq!(verify_b("", B_TS), Err(SignError::BadSignature));
        assert_eq!(verify_b("garbage", B_TS), Err(SignError::BadSignature));
        assert_eq!(verify_b("v1,!!!", B_TS), Err(SignError::NoMatchingSignature));
        assert_eq!(verify(B_SECRET, B_ID, "soon", B_SIG, B_BODY, B_TS), Err(SignError::BadTimestamp));
    }

    #[test]
    fn timestamp_tolerance_is_300_seconds_both_ways() {
        assert_eq!(verify_b(B_SIG, B_TS + 299), Ok(()));
        assert_eq!(verify_b(B_SIG, B_TS - 299), Ok(()));
        assert_eq!(verify_b(B_SIG, B_TS + 300), Ok(()));
        assert_eq!(verify_b(B_SIG, B_TS + 301), Err(SignError::TimestampOutOfTolerance));
        assert_eq!(verify_b(B_SIG, B_TS - 301), Err(SignError::TimestampOutOfTolerance));
        assert_eq!(verify_b(B_SIG, i64::MIN), Err(SignError::TimestampOutOfTolerance));
    }

    #[test]
    fn tampered_body_or_id_fails() {
        assert_eq!(verify(B_SECRET, B_ID, "1649367553", B_SIG, b"{}", B_TS), Err(SignError::NoMatchingSignature));
        assert_eq!(
            verify(B_SECRET, "msg_other", "1649367553", B_SIG, B_BODY, B_TS),
            Err(SignError::NoMatchingSignature)
        );
    }

    #[test]
    fn secret_without_prefix_works() {
        let bare = B_SECRET.strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(sign_v1(bare, B_ID, B_TS, B_BODY).unwrap(), B_SIG);
        assert_eq!(verify(bare, B_ID, "1649367553", B_SIG, B_BODY, B_TS), Ok(()));
    }

    #[test]
    fn bad_secrets_are_rejected() {
        assert_eq!(sign_v1("whsec_not base64!", B_ID, B_TS, B_BODY), Err(SignError::BadSecret));
        assert_eq!(sign_v1("whsec_", B_ID, B_TS, B_BODY), Err(SignError::BadSecret));
        assert_eq!(signature_header(&[], B_ID, B_TS, B_BODY), Err(SignError::BadSecret));
    }

    #[test]
    fn signature_header_has_one_entry_per_secret() {
        let header = signature_header(&[A_SECRET, B_SECRET], B_ID, B_TS, B_BODY).unwrap();
        let entries: Vec<&str> = header.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1], B_SIG);
        // Receivers holding either key accept the rotated header.
        assert_eq!(verify_b(&header, B_TS), Ok(()));
        assert_eq!(verify(A_SECRET, B_ID, "1649367553", &header, B_BODY, B_TS), Ok(()));
    }

    #[test]
    fn generated_secret_round_trips() {
        let secret = generate_secret();
        assert!(secret.starts_with(SECRET_PREFIX));
        assert_eq!(decode_secret(&secret).unwrap().len(), 32);
        assert_ne!(secret, generate_secret());
        let sig = sign_v1(&secret, "msg_1", 1_700_000_000, b"hello").unwrap();
        assert_eq!(verify(&secret, "msg_1", "1700000000", &sig, b"hello", 1_700_000_000), Ok(()));
    }

    #[test]
    fn tencent_vector() {
        assert_eq!(
            tencent_sign("xxxxyyyy", 1669872112),
            "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"
        );
    }
}
