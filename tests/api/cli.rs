//! The `trustpulse` binary as HR uses it, on a fresh SQLite file.

use std::path::Path;
use std::process::{Command, Output};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// Runs a command with these settings added to the environment.
    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_trustpulse"))
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("DATABASE_URL", "sqlite:trustpulse.db?mode=rwc")
            .env("TRUSTPULSE_NOW", "2026-11-23T10:00:00Z")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// Runs a command that must succeed and returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail and returns its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should have failed");
        String::from_utf8(out.stderr).unwrap()
    }

    fn file(&self, name: &str, text: &str) -> String {
        std::fs::write(self.dir.path().join(name), text).unwrap();
        name.to_owned()
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

#[test]
fn help_lists_the_commands_and_hides_secret_values() {
    let cli = Cli::new();
    let out = Command::new(env!("CARGO_BIN_EXE_trustpulse"))
        .arg("--help")
        .env("SLACK_BOT_TOKEN", "xoxb-not-a-real-token")
        .env("SLACK_SIGNING_SECRET", "not-a-real-secret")
        .env(
            "TRUSTPULSE_TOKEN_SECRET",
            "not-a-real-token-secret-0123456789abcdef",
        )
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for command in ["migrate", "roster", "cadence", "admin"] {
        assert!(help.contains(command), "--help lists {command}");
    }
    assert!(!help.contains("xoxb-not-a-real-token"));
    assert!(!help.contains("not-a-real-secret"));
    assert!(!help.contains("not-a-real-token-secret"));
    drop(cli);
}

#[test]
fn a_minimum_below_three_is_refused_at_start_up_with_the_reason() {
    let cli = Cli::new();
    let err = cli.fails(&["--min-respondents", "2", "migrate"]);
    assert!(err.contains("below the floor of 3"), "{err}");
    assert!(!cli.path().join("trustpulse.db").exists(), "nothing ran");
}

/// A token secret too short to be one is refused before anything runs; a pulse started by hand
/// with other secrets than the open ones were made under is refused with what to do; closing
/// one needs no secret.
#[test]
fn token_secrets_are_checked_before_a_pulse_is_started_by_hand() {
    let cli = Cli::new();
    let short = cli.run_with(&["migrate"], &[("TRUSTPULSE_TOKEN_SECRET", "too-short")]);
    let err = String::from_utf8_lossy(&short.stderr);
    assert_eq!(short.status.code(), Some(78), "{err}");
    assert!(
        err.contains("TRUSTPULSE_TOKEN_SECRET") && err.contains("at least 32"),
        "{err}"
    );
    assert!(!err.contains("too-short"), "the value is not echoed: {err}");
    assert!(!cli.path().join("trustpulse.db").exists(), "nothing ran");

    let roster = (1..=5)
        .flat_map(|i| {
            [
                format!("U0SELLER{i},U0BOSS1\n"),
                format!("U0OTHER{i},U0BOSS2\n"),
            ]
        })
        .collect::<String>();
    cli.ok(&[
        "roster",
        "import",
        &cli.file("r.csv", &format!("seller,manager\n{roster}")),
    ]);
    let a = [(
        "TRUSTPULSE_TOKEN_SECRET",
        "made-up-token-secret-a-0123456789abcdef",
    )];
    let started = cli.run_with(&["wave", "start", "--manager", "U0BOSS1"], &a);
    assert!(started.status.success());
    // The same database, another secret: the first pulse's tokens could not be made.
    let b = [(
        "TRUSTPULSE_TOKEN_SECRET",
        "made-up-token-secret-b-0123456789abcdef",
    )];
    let refused = cli.run_with(&["wave", "start", "--manager", "U0BOSS2"], &b);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(78), "{err}");
    assert!(
        err.contains("TRUSTPULSE_TOKEN_SECRET") && err.contains("as `trustpulse serve`"),
        "{err}"
    );
    assert!(
        !err.contains("made-up-token-secret"),
        "no secret is printed: {err}"
    );
    // Closing needs no token, so no secret: a pulse can always be closed by hand.
    let closed = cli.run_with(&["wave", "close", "--manager", "U0BOSS1"], &b);
    assert!(
        closed.status.success(),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );
}

#[test]
fn a_lease_too_short_to_finish_a_call_is_refused_with_the_range() {
    let cli = Cli::new();
    let err = cli.fails(&["--lease-secs", "10", "migrate"]);
    assert!(err.contains("--lease-secs") && err.contains("60"), "{err}");
    assert!(!cli.path().join("trustpulse.db").exists(), "nothing ran");
}

#[test]
fn roster_import_show_and_every_bad_file_changes_nothing() {
    let cli = Cli::new();
    let good = cli.file(
        "roster.csv",
        "seller,manager\nU0SELLER1,U0BOSS1\nU0SELLER2,U0BOSS1\nU0SELLER3,U0BOSS1\nU0SELLER4,U0BOSS1\nU0SELLER5,U0BOSS1\nU0SELLER6,U0BOSS2\n",
    );
    let out = cli.ok(&["roster", "import", &good]);
    assert!(
        out.contains("Roster imported: 6 sellers in 2 teams."),
        "{out}"
    );
    let shown = cli.ok(&["roster", "show"]);
    assert!(
        shown.contains("U0BOSS1: 5 sellers, 5 can be asked"),
        "{shown}"
    );
    assert!(
        shown.contains("U0BOSS2: 1 seller, 1 can be asked"),
        "{shown}"
    );
    assert!(
        shown.contains("will not see any numbers"),
        "the small team is told up front: {shown}"
    );

    let bad_files = [
        (
            "seller,manager\nU0SELLER1,U0BOSS1\nU0SELLER2\n",
            "line 3",
            "manager column is missing",
        ),
        (
            "seller,manager\nU0SELLER1,U0BOSS1\n,U0BOSS1\n",
            "line 3",
            "seller is empty",
        ),
        (
            "seller,manager\nU0SELLER1,U0SELLER1\n",
            "line 2",
            "cannot report to themselves",
        ),
        (
            "seller,manager\nU0SELLER1,U0BOSS1\nU0BOSS1,U0SELLER1\n",
            "line 3",
            "cycle of managers",
        ),
        (
            "seller,manager\nU0SELLER1,U0BOSS1\nU0SELLER1,U0BOSS2\n",
            "line 3",
            "only one manager",
        ),
        (
            "seller,manager\nU0SELLER1,U0BOSS1\nU0SELLER2,ada@example.com\n",
            "line 3",
            "email",
        ),
        (
            "who,boss\nU0SELLER1,U0BOSS1\n",
            "line 1",
            "seller and manager",
        ),
    ];
    for (i, (text, line, reason)) in bad_files.into_iter().enumerate() {
        let name = cli.file(&format!("bad{i}.csv"), text);
        let err = cli.fails(&["roster", "import", &name]);
        assert!(
            err.contains(line) && err.contains(reason),
            "{text:?}: {err}"
        );
        assert!(err.contains("Nothing was changed"), "{err}");
        assert_eq!(
            cli.ok(&["roster", "show"]),
            shown,
            "{text:?} changed the roster"
        );
    }
}

#[test]
fn cadence_set_and_show_with_friendly_errors() {
    let cli = Cli::new();
    let shown = cli.ok(&["cadence", "show"]);
    assert!(
        shown.contains("Org default: not set, so no pulse is sent"),
        "{shown}"
    );
    assert!(shown.contains("every week on mon at 10:00"), "{shown}");

    let out = cli.ok(&[
        "cadence",
        "set",
        "--every",
        "1w",
        "--weekday",
        "mon",
        "--time",
        "10:00",
        "--tz",
        "seller",
        "--open-for",
        "3d",
        "--remind-after",
        "2d",
    ]);
    assert!(
        out.starts_with("Org default: every week on mon at 10:00 (each seller's time zone, or a later zone's when too few of the team share it)"),
        "{out}"
    );

    let err = cli.fails(&[
        "cadence",
        "set",
        "--manager",
        "U0BOSS1",
        "--tz",
        "Europe/Berlin",
    ]);
    assert!(err.contains("leads no team"), "{err}");
    cli.ok(&[
        "roster",
        "import",
        &cli.file("r.csv", "seller,manager\nU0SELLER1,U0BOSS1\n"),
    ]);
    let out = cli.ok(&[
        "cadence",
        "set",
        "--manager",
        "U0BOSS1",
        "--tz",
        "Europe/Berlin",
        "--every",
        "2w",
    ]);
    assert!(
        out.contains("Team of U0BOSS1: every 2 weeks on mon at 10:00 (Europe/Berlin)"),
        "{out}"
    );

    let before = cli.ok(&["cadence", "show"]);
    for (args, message) in [
        (
            vec!["--time", "25:00"],
            "--time: '25:00' is not a time of day",
        ),
        (
            vec!["--open-for", "8d"],
            "--open-for: a pulse every 1 week(s) can stay open at most 6 days",
        ),
        (
            vec!["--remind-after", "4d"],
            "--remind-after: the reminder must come",
        ),
        (
            vec!["--tz", "Mars/Base"],
            "--tz: 'Mars/Base' is not a known IANA time zone",
        ),
    ] {
        let mut full = vec!["cadence", "set"];
        full.extend(args);
        let err = cli.fails(&full);
        assert!(
            err.contains(message) && err.contains("for example"),
            "{err}"
        );
    }
    assert_eq!(
        cli.ok(&["cadence", "show"]),
        before,
        "a refused change changes nothing"
    );
}

#[test]
fn admins_are_added_listed_and_removed() {
    let cli = Cli::new();
    assert!(cli.ok(&["admin", "list"]).contains("No admins yet"));
    assert!(
        cli.ok(&["admin", "add", "U0HR1"])
            .contains("U0HR1 can now use /pulse admin")
    );
    assert!(cli.ok(&["admin", "add", "U0HR1"]).contains("already"));
    assert_eq!(cli.ok(&["admin", "list"]), "U0HR1\n");
    assert!(
        cli.fails(&["admin", "add", "hr@example.com"])
            .contains("not a Slack user id")
    );
    assert!(
        cli.ok(&["admin", "remove", "U0HR1"])
            .contains("no longer an admin")
    );
}

/// HR can open several teams' pulses with one command. A team that cannot have one now (its
/// pulse is open already) is named, the others still get theirs, and the command fails, so a
/// script notices.
#[test]
fn wave_start_opens_each_named_teams_pulse_and_names_those_it_could_not() {
    let cli = Cli::new();
    let roster = (1..=9)
        .map(|i| format!("U0SELLER{i},U0BOSS{}\n", 1 + (i - 1) / 3))
        .collect::<String>();
    cli.ok(&[
        "roster",
        "import",
        &cli.file("r.csv", &format!("seller,manager\n{roster}")),
    ]);
    let out = cli.ok(&[
        "wave",
        "start",
        "--manager",
        "U0BOSS1",
        "--manager",
        "U0BOSS2",
    ]);
    for manager in ["U0BOSS1", "U0BOSS2"] {
        assert!(
            out.contains(&format!("Pulse opened for {manager}'s team"))
                && out.matches("3 invitations queued").count() == 2,
            "{out}"
        );
    }

    let out = cli.run(&[
        "wave",
        "start",
        "--manager",
        "U0BOSS1",
        "--manager",
        "U0BOSS3",
    ]);
    let (said, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{err}");
    assert!(said.contains("Pulse opened for U0BOSS3's team"), "{said}");
    assert!(
        err.contains(
            "No pulse opened for U0BOSS1's team: U0BOSS1's team already has an open pulse"
        ) && err.contains("1 of 2 teams got no pulse (said above): U0BOSS1"),
        "{err}"
    );
    assert!(
        cli.fails(&["wave", "start"]).contains("--manager"),
        "a manager is required"
    );
}

#[test]
fn wave_and_digest_commands_queue_work_for_the_server() {
    let cli = Cli::new();
    let roster = (1..=5)
        .map(|i| format!("U0SELLER{i},U0BOSS1\n"))
        .collect::<String>();
    cli.ok(&[
        "roster",
        "import",
        &cli.file("r.csv", &format!("seller,manager\n{roster}")),
    ]);
    let out = cli.ok(&["wave", "start", "--manager", "U0BOSS1"]);
    assert!(out.contains("5 invitations queued"), "{out}");
    assert!(
        cli.fails(&["wave", "start", "--manager", "U0BOSS1"])
            .contains("already has an open pulse")
    );
    // No count while the pulse is open: it would tell how many have answered.
    let reminded = cli.ok(&["wave", "remind", "--manager", "U0BOSS1"]);
    assert!(
        reminded.contains("Reminders queued") && !reminded.contains('5'),
        "{reminded}"
    );
    let closed = cli.ok(&["wave", "close", "--manager", "U0BOSS1"]);
    assert!(
        closed.contains("too few answered to show results safely"),
        "{closed}"
    );
    assert!(
        cli.fails(&["wave", "close", "--manager", "U0BOSS1"])
            .contains("no open pulse")
    );
    assert!(
        cli.ok(&["digest", "send", "--manager", "U0BOSS1"])
            .contains("digest is queued")
    );
    assert!(
        cli.fails(&["digest", "send", "--manager", "U0NOBODY"])
            .contains("leads no team")
    );
}
