use super::*;
use axum::http::HeaderValue;

const VECTOR_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const VECTOR_TS: i64 = 1531420618;
const VECTOR_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const VECTOR_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

fn secrets(list: &[&str]) -> Vec<SecretString> {
    list.iter()
        .map(|s| SecretString::from(s.to_string()))
        .collect()
}

fn headers(ts: &str, sig: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(ts).unwrap());
    h.insert(SIGNATURE_HEADER, HeaderValue::from_str(sig).unwrap());
    h
}

#[test]
fn slacks_published_vector_verifies_and_an_altered_body_does_not() {
    assert_eq!(
        sign(VECTOR_SECRET, VECTOR_TS, VECTOR_BODY.as_bytes()),
        VECTOR_SIG
    );
    let h = headers(&VECTOR_TS.to_string(), VECTOR_SIG);
    let s = secrets(&[VECTOR_SECRET]);
    assert_eq!(verify(&s, &h, VECTOR_BODY.as_bytes(), VECTOR_TS), Ok(()));
    let altered = format!("{VECTOR_BODY}------");
    assert_eq!(
        verify(&s, &h, altered.as_bytes(), VECTOR_TS),
        Err(VerifyError::WrongSignature)
    );
}

#[test]
fn the_window_is_five_minutes_both_ways() {
    let s = secrets(&["secret"]);
    let now = 1_800_000_000;
    for (offset, ok) in [
        (-301, false),
        (-300, true),
        (-299, true),
        (0, true),
        (299, true),
        (300, true),
        (301, false),
    ] {
        let ts = now + offset;
        let h = headers(&ts.to_string(), &sign("secret", ts, b"body"));
        assert_eq!(verify(&s, &h, b"body", now).is_ok(), ok, "offset {offset}");
    }
}

#[test]
fn header_garbage_is_refused_never_a_panic() {
    let s = secrets(&["secret"]);
    let now = 1_800_000_000;
    let good_sig = sign("secret", now, b"body");
    let bad_ts = [
        "",
        "abc",
        " 123",
        "+1800000000",
        "-1",
        "1e9",
        "99999999999999999999",
        "1800000000 ",
    ];
    for ts in bad_ts {
        let h = headers(ts, &good_sig);
        assert!(verify(&s, &h, b"body", now).is_err(), "ts {ts:?}");
    }
    let upper = good_sig.replacen("v0=", "", 1).to_uppercase();
    let bad_sigs = [
        String::new(),
        good_sig.replacen("v0=", "v1=", 1),
        good_sig[..good_sig.len() - 1].to_owned(),
        format!("{good_sig}0"),
        format!("v0={upper}"),
        format!("v0={}", "z".repeat(64)),
        "v0=".to_owned(),
    ];
    for sig in &bad_sigs {
        let h = headers(&now.to_string(), sig);
        assert!(verify(&s, &h, b"body", now).is_err(), "sig {sig:?}");
    }
    // Missing headers, and the same header twice.
    assert_eq!(
        verify(&s, &HeaderMap::new(), b"body", now),
        Err(VerifyError::BadTimestamp)
    );
    let mut twice = headers(&now.to_string(), &good_sig);
    twice.append(SIGNATURE_HEADER, HeaderValue::from_str(&good_sig).unwrap());
    assert_eq!(
        verify(&s, &twice, b"body", now),
        Err(VerifyError::BadSignatureHeader)
    );
    let mut twice_ts = headers(&now.to_string(), &good_sig);
    twice_ts.append(
        TIMESTAMP_HEADER,
        HeaderValue::from_str(&now.to_string()).unwrap(),
    );
    assert_eq!(
        verify(&s, &twice_ts, b"body", now),
        Err(VerifyError::BadTimestamp)
    );
    // Non-UTF-8 header bytes.
    let mut binary = headers(&now.to_string(), &good_sig);
    binary.insert(
        SIGNATURE_HEADER,
        HeaderValue::from_bytes(b"v0=\xff\xfe").unwrap(),
    );
    assert!(verify(&s, &binary, b"body", now).is_err());
}

#[test]
fn any_configured_secret_verifies_during_a_rotation() {
    let s = secrets(&["old-secret", "new-secret"]);
    let now = 1_800_000_000;
    for secret in ["old-secret", "new-secret"] {
        let h = headers(&now.to_string(), &sign(secret, now, b"x"));
        assert_eq!(verify(&s, &h, b"x", now), Ok(()), "{secret}");
    }
    let h = headers(&now.to_string(), &sign("third-secret", now, b"x"));
    assert_eq!(verify(&s, &h, b"x", now), Err(VerifyError::WrongSignature));
}

#[test]
fn errors_never_contain_the_expected_signature() {
    let s = secrets(&["secret"]);
    let now = 1_800_000_000;
    let h = headers(&now.to_string(), &format!("v0={}", "0".repeat(64)));
    let err = verify(&s, &h, b"body", now).unwrap_err();
    let expected = sign("secret", now, b"body");
    assert!(!err.to_string().contains(&expected[3..]));
    assert!(!format!("{err:?}").contains(&expected[3..]));
}

#[test]
fn only_an_exact_ssl_check_form_is_a_probe() {
    let mut form = HeaderMap::new();
    form.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    assert!(is_ssl_check(&form, b"ssl_check=1&token=x"));
    assert!(is_ssl_check(&form, b"ssl_check=1"));
    for smuggled in [
        "command=/pulse&text=status&ssl_check=1",
        "ssl_check=1&payload={\"type\":\"event_callback\"}",
        "ssl_check=0",
        "ssl_check=true",
        "ssl_check=",
        "ssl_check=1&ssl_check=1",
        "ssl_check=1&token=x&user_id=U1",
    ] {
        assert!(!is_ssl_check(&form, smuggled.as_bytes()), "{smuggled}");
    }
    // A probe is short; a long body (a survey answer) is never taken for one, however it starts.
    let padded = format!("ssl_check=1&token={}", "x".repeat(300));
    assert!(!is_ssl_check(&form, padded.as_bytes()));
    assert!(is_ssl_check(
        &form,
        b"ssl_check=1&token=xyzz0WbapA4vBCDEFasx0q6G"
    ));
    let mut json = HeaderMap::new();
    json.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    assert!(!is_ssl_check(&json, br#"{"ssl_check":"1"}"#));
    assert!(!is_ssl_check(&json, b"ssl_check=1"));
}
