//! Request verification at the HTTP level: every refusal is a 401 (or 413) and acts on nothing.

use trustpulse::sim::payloads;
use trustpulse::sim::slack_side::{FORM, send};
use trustpulse::slack::verify::sign;

use crate::app::{SIGNING_SECRET, TestApp, run_test};
use crate::helpers::ts;

/// Posts `body` to `path` with a signature over it at `signed_at` and these extra headers.
async fn post_signed(app: &TestApp, path: &str, body: &str, signed_at: i64) -> u16 {
    let headers = [
        ("content-type", FORM.to_owned()),
        ("x-slack-request-timestamp", signed_at.to_string()),
        (
            "x-slack-signature",
            sign(SIGNING_SECRET, signed_at, body.as_bytes()),
        ),
    ];
    send(
        &format!("{}{path}", app.base_url),
        &headers,
        body.as_bytes().to_vec(),
    )
    .await
    .unwrap()
    .status
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> trustpulse::sim::slack_side::Reply {
    send(
        &format!("{}{path}", app.base_url),
        headers,
        body.as_bytes().to_vec(),
    )
    .await
    .unwrap()
}

fn command_body(app: &TestApp) -> String {
    serde_urlencoded::to_string(payloads::slash_command(
        &app.fake,
        "U0SOMEONE",
        "/pulse",
        "help",
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slacks_published_vector_is_accepted_with_the_clock_fixed_and_refused_when_altered() {
    // Slack's documented example, replayed at its own moment.
    let vector_secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    let app = TestApp::spawn_with_secret(vector_secret, ts("2018-07-12T18:36:58Z")).await;
    let headers = [
        ("content-type", FORM.to_owned()),
        ("x-slack-request-timestamp", "1531420618".to_owned()),
        ("x-slack-signature", signature.to_owned()),
    ];
    let reply = post_raw(&app, "/slack/commands", &headers, body).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["response_type"], "ephemeral");
    let altered = format!("{body}------");
    assert_eq!(
        post_raw(&app, "/slack/commands", &headers, &altered)
            .await
            .status,
        401
    );
    app.stop().await;
}

#[test]
fn the_timestamp_window_is_five_minutes_either_way() {
    run_test(async |app| {
        let now = app.state.now().as_second();
        let body = command_body(app);
        for (offset, status) in [(-301, 401), (301, 401), (-299, 200), (299, 200)] {
            assert_eq!(
                post_signed(app, "/slack/commands", &body, now + offset).await,
                status,
                "offset {offset}"
            );
        }
    });
}

#[test]
fn header_garbage_gets_401_never_500() {
    run_test(async |app| {
        let now = app.state.now().as_second();
        let body = command_body(app);
        let good = sign(SIGNING_SECRET, now, body.as_bytes());
        let upper = format!("v0={}", good[3..].to_uppercase());
        let cases: Vec<Vec<(&str, String)>> = vec![
            vec![],
            vec![("x-slack-request-timestamp", now.to_string())],
            vec![("x-slack-signature", good.clone())],
            vec![
                ("x-slack-request-timestamp", String::new()),
                ("x-slack-signature", good.clone()),
            ],
            vec![
                ("x-slack-request-timestamp", "abc".into()),
                ("x-slack-signature", good.clone()),
            ],
            vec![
                ("x-slack-request-timestamp", "99999999999999999999".into()),
                ("x-slack-signature", good.clone()),
            ],
            vec![
                ("x-slack-request-timestamp", now.to_string()),
                ("x-slack-signature", String::new()),
            ],
            vec![
                ("x-slack-request-timestamp", now.to_string()),
                ("x-slack-signature", good.replacen("v0=", "v1=", 1)),
            ],
            vec![
                ("x-slack-request-timestamp", now.to_string()),
                ("x-slack-signature", good[..good.len() - 1].to_owned()),
            ],
            vec![
                ("x-slack-request-timestamp", now.to_string()),
                ("x-slack-signature", upper),
            ],
            vec![
                ("x-slack-request-timestamp", now.to_string()),
                ("x-slack-request-timestamp", now.to_string()),
                ("x-slack-signature", good.clone()),
            ],
            vec![
                ("x-slack-request-timestamp", now.to_string()),
                ("x-slack-signature", good.clone()),
                ("x-slack-signature", good.clone()),
            ],
        ];
        for (i, mut headers) in cases.into_iter().enumerate() {
            headers.push(("content-type", FORM.to_owned()));
            let reply = post_raw(app, "/slack/commands", &headers, &body).await;
            assert_eq!(reply.status, 401, "case {i}: {headers:?}");
        }
        // The same request, properly signed, works.
        assert_eq!(post_signed(app, "/slack/commands", &body, now).await, 200);
    });
}

#[test]
fn a_body_over_one_mebibyte_is_refused_before_any_hmac() {
    run_test(async |app| {
        let now = app.state.now().as_second();
        let body = "a".repeat(1024 * 1024 + 1);
        let headers = [
            ("content-type", FORM.to_owned()),
            ("x-slack-request-timestamp", now.to_string()),
            ("x-slack-signature", "v0=00".to_owned()),
        ];
        for path in ["/slack/events", "/slack/interactions", "/slack/commands"] {
            assert_eq!(
                post_raw(app, path, &headers, &body).await.status,
                413,
                "{path}"
            );
        }
    });
}

#[test]
fn only_an_exact_unsigned_ssl_check_is_answered_without_a_signature() {
    run_test(async |app| {
        let form = [("content-type", FORM.to_owned())];
        let probe = post_raw(app, "/slack/commands", &form, "ssl_check=1&token=x").await;
        assert_eq!(probe.status, 200);
        assert_eq!(
            probe.body,
            serde_json::Value::String(String::new()),
            "an empty body"
        );

        let mut bad_sig = form.to_vec();
        bad_sig.push(("x-slack-signature", "v0=invalid".to_owned()));
        bad_sig.push((
            "x-slack-request-timestamp",
            app.state.now().as_second().to_string(),
        ));
        let smuggled = format!("{}&ssl_check=1", command_body(app));
        assert_eq!(
            post_raw(app, "/slack/commands", &bad_sig, &smuggled)
                .await
                .status,
            401
        );
        for not_a_probe in [
            "ssl_check=0",
            "ssl_check=true",
            "ssl_check=",
            "ssl_check=1&payload=%7B%22type%22%3A%22event_callback%22%7D",
        ] {
            assert_eq!(
                post_raw(app, "/slack/commands", &form, not_a_probe)
                    .await
                    .status,
                401,
                "{not_a_probe}"
            );
        }
        let json = [("content-type", "application/json".to_owned())];
        assert_eq!(
            post_raw(app, "/slack/events", &json, r#"{"ssl_check":"1"}"#)
                .await
                .status,
            401
        );
        // Nothing was acted on: no Slack call beyond start-up's auth.test.
        assert!(app.fake.calls().iter().all(|c| c.method == "auth.test"));
    });
}

#[test]
fn url_verification_answers_its_challenge_only_when_signed() {
    run_test(async |app| {
        let body = r#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        let reply = app
            .slack
            .event(serde_json::from_str(body).unwrap())
            .await
            .unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.body,
            serde_json::json!("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        );
        let unsigned = post_raw(
            app,
            "/slack/events",
            &[("content-type", "application/json".to_owned())],
            body,
        )
        .await;
        assert_eq!(unsigned.status, 401);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn either_of_two_rotated_secrets_is_accepted_and_a_third_is_not() {
    let app = TestApp::spawn_with_secrets(&["old-secret", "new-secret"]).await;
    let now = app.state.now().as_second();
    let body = command_body(&app);
    for (secret, status) in [
        ("old-secret", 200),
        ("new-secret", 200),
        ("third-secret", 401),
    ] {
        let headers = [
            ("content-type", FORM.to_owned()),
            ("x-slack-request-timestamp", now.to_string()),
            ("x-slack-signature", sign(secret, now, body.as_bytes())),
        ];
        assert_eq!(
            post_raw(&app, "/slack/commands", &headers, &body)
                .await
                .status,
            status,
            "{secret}"
        );
    }
    app.stop().await;
}
