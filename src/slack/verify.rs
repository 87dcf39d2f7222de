//! Verifying that a request really comes from Slack, before anything reads its content.
//!
//! Slack signs `v0:{timestamp}:{raw body}` with HMAC-SHA256 under the app's signing secret. We
//! accept a request only if the timestamp is within five minutes of now in either direction and
//! the signature matches one of the configured secrets (several during a rotation), compared in
//! constant time. Every malformed header is a plain refusal, never a panic. Errors carry no
//! secret, signature or body; they only say which check failed.

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// How far a request's timestamp may be from our clock, either way.
pub const MAX_SKEW_SECS: i64 = 300;

pub const SIGNATURE_HEADER: &str = "x-slack-signature";
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the timestamp header is missing, repeated or not a number")]
    BadTimestamp,
    #[error("the timestamp is more than five minutes from now")]
    StaleTimestamp,
    #[error("the signature header is missing, repeated or malformed")]
    BadSignatureHeader,
    #[error("the signature does not match")]
    WrongSignature,
    #[error("no signing secret is configured")]
    NoSecret,
}

/// Checks `body` against the Slack headers at time `now` (unix seconds).
pub fn verify(
    secrets: &[SecretString],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let timestamp = single_header(headers, TIMESTAMP_HEADER).ok_or(VerifyError::BadTimestamp)?;
    let ts = parse_timestamp(timestamp).ok_or(VerifyError::BadTimestamp)?;
    if now.abs_diff(ts) > MAX_SKEW_SECS as u64 {
        return Err(VerifyError::StaleTimestamp);
    }
    let signature =
        single_header(headers, SIGNATURE_HEADER).ok_or(VerifyError::BadSignatureHeader)?;
    let expected = parse_signature(signature).ok_or(VerifyError::BadSignatureHeader)?;
    if secrets.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let mut matched = false;
    // Try every secret, without stopping early, so timing says nothing about which one matched.
    for secret in secrets {
        let mut mac = mac_for(secret, timestamp, body);
        matched |= mac_verify(&mut mac, &expected);
    }
    if matched {
        Ok(())
    } else {
        Err(VerifyError::WrongSignature)
    }
}

fn mac_for(secret: &SecretString, timestamp: &[u8], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(timestamp);
    mac.update(b":");
    mac.update(body);
    mac
}

fn mac_verify(mac: &mut Hmac<Sha256>, expected: &[u8; 32]) -> bool {
    // `verify_slice` compares in constant time.
    mac.clone().verify_slice(expected).is_ok()
}

/// Signs like Slack does; used by the fake Slack and by tests.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = mac_for(
        &SecretString::from(secret.to_owned()),
        timestamp.to_string().as_bytes(),
        body,
    );
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// The value of a header that must appear exactly once.
fn single_header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    Some(first.as_bytes())
}

/// Plain decimal digits only: no sign, no spaces, no exponent, at most 12 digits.
fn parse_timestamp(raw: &[u8]) -> Option<i64> {
    if raw.is_empty() || raw.len() > 12 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// `v0=` and exactly 64 lowercase hex digits.
fn parse_signature(raw: &[u8]) -> Option<[u8; 32]> {
    let hex_part = raw.strip_prefix(b"v0=")?;
    if hex_part.len() != 64
        || !hex_part
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut out).ok()?;
    Some(out)
}

/// Longer than any `ssl_check=1&token=…` probe Slack sends.
const SSL_CHECK_MAX_BYTES: usize = 256;

/// Slack's unsigned SSL probe: exactly `ssl_check=1`, optionally with a `token`, nothing else.
/// Anything more (a smuggled payload, `ssl_check=true`, JSON) is not a probe and gets verified.
pub fn is_ssl_check(headers: &HeaderMap, body: &[u8]) -> bool {
    // The probe is a few dozen bytes. Anything longer is not one, and is not decoded here: a
    // survey answer's body (several KB) is then decoded once, after its signature is checked.
    if body.len() > SSL_CHECK_MAX_BYTES {
        return false;
    }
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return false;
    }
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) else {
        return false;
    };
    let mut ssl_check = false;
    for (key, value) in &pairs {
        match key.as_str() {
            "ssl_check" if value == "1" && !ssl_check => ssl_check = true,
            "token" => {}
            _ => return false,
        }
    }
    ssl_check && pairs.len() <= 2
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
