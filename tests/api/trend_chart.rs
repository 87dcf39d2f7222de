//! The trend as a picture (issue 14, part 4): the chart follows the weekly digest into the
//! manager's direct message through Slack's external upload (get a URL, send the bytes,
//! complete), is shared there and nowhere else, and App Home shows the same file.

use serde_json::Value;
use trustpulse::sim::fake_slack::{Fault, dm_channel};
use trustpulse::store::Job;

use crate::app::{TestApp, run_test, sellers};
use crate::helpers::now;

/// U0BOSS1's team of six with a release (five answered: care 4, help 2, trust 5), and
/// U0BOSS2's team of five with none.
async fn released_team(app: &TestApp) {
    app.team("U0BOSS1", &sellers("U0BOSS1", 6, &["Europe/Berlin"]))
        .await;
    app.team("U0BOSS2", &sellers("U0BOSS2", 5, &["Europe/Berlin"]))
        .await;
    let answering: Vec<String> = (1..=5).map(|i| format!("U0BOSS1S{i}")).collect();
    app.released_pulse("U0BOSS1", &answering).await;
    app.deliver().await;
}

async fn queue_digest(app: &TestApp, manager: &str) {
    let digest = Job::Digest {
        manager_id: manager.into(),
        week: "2026-11-30".into(),
    };
    app.state
        .store
        .enqueue(&digest, now(), now())
        .await
        .unwrap();
}

/// The image blocks of `person`'s App Home as it is now.
async fn home_images(app: &TestApp, person: &str) -> Vec<Value> {
    let home = app.home(person).await;
    home["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "image")
        .cloned()
        .collect()
}

#[test]
fn the_chart_follows_the_digest_into_the_managers_dm_and_nowhere_else() {
    run_test(async |app| {
        released_team(app).await;
        let before = app.fake.calls().len();
        queue_digest(app, "U0BOSS1").await;
        app.deliver().await;

        // The digest first, then the three steps of the upload.
        let methods: Vec<String> = app.fake.calls()[before..]
            .iter()
            .map(|c| c.method.clone())
            .collect();
        assert_eq!(
            methods,
            [
                "chat.postMessage",
                "files.getUploadURLExternal",
                "files.completeUploadExternal"
            ]
        );
        let files = app.fake.files();
        assert_eq!(files.len(), 1, "{files:?}");
        let file = &files[0];
        let bytes = file.bytes.as_ref().expect("the bytes were uploaded");
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(bytes.len(), file.length);
        assert!(file.completed);
        // Shared in the manager's DM only: not a channel, not a seller.
        assert_eq!(file.channels, [dm_channel("U0BOSS1")]);
        assert!(file.filename.ends_with(".png"), "{}", file.filename);
        assert!(
            file.title
                .as_deref()
                .is_some_and(|t| t.starts_with("Your team's trust, to ")),
            "{:?}",
            file.title
        );
        // The words state the numbers it draws.
        for expected in ["Care: ", " 4.0", "Help: ", " 2.0", "Trust: ", " 5.0"] {
            assert!(file.alt_text.contains(expected), "{}", file.alt_text);
        }
        // The text sparkline stays in the digest, for anyone the picture does not reach.
        let digest = app.last_dm("U0BOSS1");
        assert!(digest.text.contains("trend "), "{}", digest.text);

        // App Home shows the same file with the same words; no one else's home has it.
        let images = home_images(app, "U0BOSS1").await;
        assert_eq!(images.len(), 1, "{images:?}");
        assert_eq!(images[0]["slack_file"]["id"], file.id.as_str());
        assert_eq!(images[0]["alt_text"], file.alt_text.as_str());
        for other in ["U0BOSS1S1", "U0BOSS2"] {
            assert!(home_images(app, other).await.is_empty(), "{other}");
        }

        // A team without a release gets its digest in words, and no picture.
        queue_digest(app, "U0BOSS2").await;
        app.deliver().await;
        assert_eq!(app.fake.files().len(), 1);
        assert!(app.fake.dm_messages("U0BOSS2").len() == 1);
    });
}

#[test]
fn a_failed_upload_is_tried_again_without_sending_the_digest_twice() {
    run_test(async |app| {
        released_team(app).await;
        app.fake
            .fail_next("files.completeUploadExternal", Fault::ServerError);
        queue_digest(app, "U0BOSS1").await;
        app.deliver().await;
        assert_eq!(app.fake.files().iter().filter(|f| f.completed).count(), 0);
        assert!(home_images(app, "U0BOSS1").await.is_empty());

        // The retry comes after its backoff.
        let next = app.state.store.next_due().await.unwrap().expect("a retry");
        app.state.clock.set(next);
        app.deliver().await;

        let digests = app
            .fake
            .dm_messages("U0BOSS1")
            .into_iter()
            .filter(|m| m.text.starts_with("Released "))
            .count();
        assert_eq!(digests, 1, "the digest was sent once");
        let shared: Vec<_> = app
            .fake
            .files()
            .into_iter()
            .filter(|f| !f.channels.is_empty())
            .collect();
        assert_eq!(shared.len(), 1, "one chart shared");
        // The half-finished first upload was never shared anywhere.
        assert!(
            app.fake
                .files()
                .iter()
                .all(|f| f.completed || f.channels.is_empty())
        );
        let images = home_images(app, "U0BOSS1").await;
        assert_eq!(images[0]["slack_file"]["id"], shared[0].id.as_str());
    });
}

#[test]
fn an_app_without_files_write_still_sends_everything_else() {
    run_test(async |app| {
        released_team(app).await;
        // Installed before trustpulse asked for `files:write`.
        app.fake.fail_next(
            "files.getUploadURLExternal",
            Fault::Error("missing_scope".into()),
        );
        queue_digest(app, "U0BOSS1").await;
        app.deliver().await;
        assert!(app.fake.files().is_empty());
        assert!(home_images(app, "U0BOSS1").await.is_empty());
        // The chart alone failed: nothing paused, the next digest goes out at once.
        assert_eq!(app.state.store.outbox_counts().await.unwrap().failed, 1);
        queue_digest(app, "U0BOSS2").await;
        app.deliver().await;
        assert_eq!(app.fake.dm_messages("U0BOSS2").len(), 1);
    });
}
