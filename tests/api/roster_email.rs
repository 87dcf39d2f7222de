//! `roster import` with emails, resolved through Slack's `users.lookupByEmail`.

use std::process::Command;

use trustpulse::sim::fake_slack::{BOT_TOKEN, FakeSlack, FakeUser};

fn import(dir: &std::path::Path, fake: &FakeSlack, csv: &str) -> std::process::Output {
    std::fs::write(dir.join("roster.csv"), csv).unwrap();
    Command::new(env!("CARGO_BIN_EXE_trustpulse"))
        .args(["roster", "import", "roster.csv"])
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", "sqlite:trustpulse.db?mode=rwc")
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_API_URL", fake.api_url())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_are_looked_up_in_slack_and_an_unknown_one_rejects_the_file() {
    let fake = FakeSlack::start(vec![
        FakeUser::new("U0ADA", "Europe/Berlin"),
        FakeUser::new("U0BOSS", "Europe/Berlin"),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = import(
        dir.path(),
        &fake,
        "seller,manager\nu0ada@example.com,U0BOSS\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("joined  U0ADA → U0BOSS"));
    assert_eq!(fake.calls_to("users.lookupByEmail").len(), 1);

    let out = import(
        dir.path(),
        &fake,
        "seller,manager\nU0ADA,U0BOSS\nnobody@example.com,U0BOSS\n",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3: no one in this Slack workspace has the email nobody@example.com"),
        "{err}"
    );
    assert!(err.contains("Nothing was changed"));
}

/// `examples/roster.csv`, the sample the README points newcomers to, imports as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_roster_imports() {
    let mut people: Vec<FakeUser> = [
        "U0SELLER1",
        "U0SELLER2",
        "U0SELLER3",
        "U0SELLER4",
        "U0SELLER5",
        "U0MANAGER1",
        "U0MANAGER2",
    ]
    .iter()
    .map(|id| FakeUser::new(id, "Europe/Berlin"))
    .collect();
    for (id, email) in [
        ("U0ALEX", "alex.seller@example.com"),
        ("U0SAM", "sam.seller@example.com"),
    ] {
        let mut user = FakeUser::new(id, "America/New_York");
        user.email = email.to_owned();
        people.push(user);
    }
    let fake = FakeSlack::start(people).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sample =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/roster.csv"))
            .unwrap();
    let out = import(dir.path(), &fake, &sample);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Roster imported: 7 sellers in 2 teams."),
        "{stdout}"
    );
    assert!(stdout.contains("joined  U0ALEX → U0MANAGER2"), "{stdout}");
}
