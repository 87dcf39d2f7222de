//! What reaches the logs: ids and reasons, never an answer, a comment, a token, a secret or a
//! signature. The capture runs at TRACE for everything (with trustpulse's own caps on the
//! libraries that print payloads) and holds the logs of every test in this binary.

use regex_lite::Regex;
use trustpulse::ops::waves;

use crate::app::{SIGNING_SECRET, TOKEN_SECRET, TestApp, captured_logs, sellers};
use crate::helpers::now;

const SECRET_COMMENT: &str = "Quietly worried about the Q3 quota conversation";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_hold_no_answer_comment_token_secret_or_signature() {
    for app in [TestApp::spawn().await, TestApp::spawn_socket_mode().await] {
        app.team("U0BOSS1", &sellers("U0BOSS1", 5, &["Europe/Berlin"]))
            .await;
        waves::start_wave(&app.state.store, "U0BOSS1", app.state.k, now())
            .await
            .unwrap();
        app.deliver().await;
        for seller in ["U0BOSS1S1", "U0BOSS1S2"] {
            let reply = app
                .answer(seller, "2", "3", "4", Some(SECRET_COMMENT))
                .await;
            assert_eq!(reply.body["response_action"], "update");
        }
        app.answer("U0BOSS1S3", "9", "3", "4", Some(SECRET_COMMENT))
            .await;
        app.command("U0BOSS1S1", "status").await;
        app.stop().await;
    }
    let logs = captured_logs();
    assert!(logs.contains("submission recorded"), "the capture works");
    for forbidden in [
        SECRET_COMMENT,
        "Quietly worried",
        "xoxb-",
        "xapp-",
        SIGNING_SECRET,
        TOKEN_SECRET,
        "old-secret",
        "new-secret",
        "8f742231b10e8888abcd99yyyzzz85a5",
        "selected_option",
        "private_metadata",
        "response_url",
        "\"care\"",
        "view_submission",
    ] {
        assert!(!logs.contains(forbidden), "the logs contain {forbidden:?}");
    }
    let signature = Regex::new("v0=[0-9a-fA-F]{16}").unwrap();
    assert!(!signature.is_match(&logs), "the logs contain a signature");
    // No log line names a seller next to a submission.
    for line in logs.lines().filter(|l| l.contains("submission")) {
        assert!(!line.contains("U0BOSS1S"), "{line}");
    }
}
