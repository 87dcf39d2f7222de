//! Snapshots of every Slack surface a person can see, each rendered from a plain model: the
//! invitation, the reminder and the closed-pulse update; the survey modal, its thanks and each
//! refusal; the self-check; App Home for a seller, a manager, an admin and someone on no
//! roster; every `/pulse` reply; the admin modals, notices and errors. (The digest in each of
//! its states is in `digest_snapshots`.) A change of copy or layout shows up in review as a
//! snapshot diff.

use jiff::civil::date;

use super::blocks::{
    comment_too_long, invitation, pulse_closed, refusal_modal, reminder, self_check_modal,
    self_check_notice, survey_modal, thanks_modal,
};
use super::commands;
use super::home::{
    add_admin_modal, admin_notice, admins_only, cadence_errors, cadence_modal, ids,
    no_person_chosen, render_home,
};
use crate::digest::build_digest;
use crate::digest::fixtures::{WEEK1, input, release};
use crate::ops::admin::AdminOutcome;
use crate::ops::commitments::TeamLoop;
use crate::ops::views::{
    AdminView, HomeView, ManagerView, SellerView, StatusView, TeamRow, WindowStanding,
};
use crate::store::{PredictionOutcome, SubmissionError};
use crate::survey::Comment;
use crate::survey::cadence::{Cadence, CadenceFlags};

const K: u32 = 5;
const WAVE: &str = "0123456789abcdef0123456789abcdef";

fn seller(window: WindowStanding, opted_out: bool, next: Option<&str>) -> SellerView {
    SellerView {
        manager: "U0MANAGER".into(),
        opted_out,
        next_pulse: next.map(Into::into),
        window,
        commitment: None,
    }
}

fn admin_view() -> AdminView {
    AdminView {
        org_cadence: Some(Cadence::builtin_default(date(2026, 11, 30)).describe()),
        teams: vec![
            TeamRow {
                manager: "U0MANAGER".into(),
                sellers: 8,
                eligible: 7,
                own_cadence: None,
                pulse_open: true,
                took_part: Some("6 of 8 took part".into()),
            },
            TeamRow {
                manager: "U0SMALL".into(),
                sellers: 3,
                eligible: 3,
                own_cadence: Some("every 2 weeks".into()),
                pulse_open: false,
                took_part: None,
            },
        ],
        more_teams: 0,
        admins: vec!["U0HR1".into(), "U0HR2".into()],
    }
}

fn digest() -> crate::digest::Digest {
    build_digest(&input(vec![release("2026-11-26", WEEK1, &[], 1)]))
}

#[test]
fn messages_in_a_sellers_dm() {
    let closes = "Thursday 3 December, 10:00";
    insta::assert_json_snapshot!("invitation", invitation(WAVE, closes, K));
    insta::assert_json_snapshot!("reminder", reminder(WAVE, closes, K));
    insta::assert_json_snapshot!("pulse_closed", pulse_closed("3 December 2026"));
}

#[test]
fn the_survey_its_thanks_and_each_refusal() {
    insta::assert_json_snapshot!("survey_modal", survey_modal(r#"{"wave":"w"}"#, K));
    insta::assert_json_snapshot!(
        "survey_modal_with_follow_through",
        super::blocks::survey_modal_asking(r#"{"wave":"w"}"#, K, Some(("U0MANAGER", "2026-12-14")))
    );
    insta::assert_json_snapshot!("thanks_modal", thanks_modal());
    let long = Comment::new(&"x".repeat(5_000)).unwrap_err();
    insta::assert_json_snapshot!("comment_too_long", comment_too_long(&long));
    for (name, refusal) in [
        ("refused_already_answered", SubmissionError::AlreadyAnswered),
        ("refused_pulse_closed", SubmissionError::WaveClosed),
        ("refused_not_invited", SubmissionError::NotInvited),
        ("refused_unknown_pulse", SubmissionError::UnknownWave),
        (
            "refused_not_saved",
            SubmissionError::Internal(anyhow::anyhow!("")),
        ),
    ] {
        insta::assert_json_snapshot!(name, refusal_modal(&refusal));
    }
}

#[test]
fn the_self_check() {
    insta::assert_json_snapshot!("self_check_modal", self_check_modal());
    insta::assert_json_snapshot!("self_check_nothing_to_predict", self_check_notice(None));
    for (name, outcome) in [
        ("self_check_saved", PredictionOutcome::Recorded),
        (
            "self_check_already_made",
            PredictionOutcome::AlreadyPredicted,
        ),
        ("self_check_no_open_window", PredictionOutcome::NoOpenWindow),
    ] {
        insta::assert_json_snapshot!(name, self_check_notice(Some(outcome)));
    }
}

#[test]
fn app_home_by_role() {
    let nobody = HomeView {
        admin: None,
        manager: None,
        seller: None,
    };
    insta::assert_json_snapshot!("home_nobody", render_home(&nobody, K, None));
    for (name, window, opted_out, next) in [
        (
            "home_seller_idle",
            WindowStanding::Idle,
            false,
            Some("Monday 7 December at 10:00"),
        ),
        ("home_seller_open", WindowStanding::Open, false, None),
        (
            "home_seller_open_with_held",
            WindowStanding::OpenWithHeld,
            false,
            None,
        ),
        (
            "home_seller_held_opted_out",
            WindowStanding::Held,
            true,
            None,
        ),
    ] {
        let home = HomeView {
            seller: Some(seller(window, opted_out, next)),
            ..nobody.clone()
        };
        insta::assert_json_snapshot!(name, render_home(&home, K, None));
    }
    // A button on Home whose modal Slack would not open: the notice on top, the rest as it was.
    let seller_idle = HomeView {
        seller: Some(seller(
            WindowStanding::Idle,
            false,
            Some("Monday 7 December at 10:00"),
        )),
        ..nobody.clone()
    };
    insta::assert_json_snapshot!(
        "home_with_notice",
        render_home(
            &seller_idle,
            K,
            Some("Slack did not open that in time. Please press the button again.")
        )
    );
    let manager = HomeView {
        manager: Some(ManagerView {
            digest: digest(),
            team_loop: TeamLoop::default(),
            chart: None,
        }),
        ..nobody.clone()
    };
    insta::assert_json_snapshot!("home_manager", render_home(&manager, K, None));
    let mut with_chart = manager.clone();
    with_chart.manager.as_mut().unwrap().chart = Some(crate::store::SharedChart {
        file_id: "F0CHART1".into(),
        alt_text: "Trend of your team's last 2 releases, each question's average on the 1 to 5 scale, oldest first. Care: 3 Dec 3.8, 10 Dec 4.0.".into(),
        shows_until: "2026-12-10".into(),
    });
    insta::assert_json_snapshot!("home_manager_chart", render_home(&with_chart, K, None));
    let admin = HomeView {
        admin: Some(admin_view()),
        ..nobody.clone()
    };
    insta::assert_json_snapshot!("home_admin", render_home(&admin, K, None));
    let empty_org = HomeView {
        admin: Some(AdminView {
            org_cadence: None,
            teams: Vec::new(),
            more_teams: 0,
            admins: vec!["U0HR1".into()],
        }),
        ..nobody
    };
    insta::assert_json_snapshot!("home_admin_no_roster", render_home(&empty_org, K, None));
}

#[test]
fn every_pulse_command_reply() {
    insta::assert_snapshot!("pulse_help", commands::help());
    let nobody = StatusView {
        manager: None,
        seller: None,
    };
    insta::assert_snapshot!("pulse_status_nobody", commands::status(&nobody, K));
    let seller_status = StatusView {
        seller: Some(seller(
            WindowStanding::Open,
            false,
            Some("Monday 7 December at 10:00"),
        )),
        ..nobody.clone()
    };
    insta::assert_snapshot!("pulse_status_seller", commands::status(&seller_status, K));
    let unscheduled = StatusView {
        seller: Some(seller(WindowStanding::Idle, false, None)),
        ..nobody.clone()
    };
    insta::assert_snapshot!(
        "pulse_status_seller_unscheduled",
        commands::status(&unscheduled, K)
    );
    let opted_out = StatusView {
        seller: Some(seller(WindowStanding::Idle, true, None)),
        ..nobody.clone()
    };
    insta::assert_snapshot!(
        "pulse_status_seller_opted_out",
        commands::status(&opted_out, K)
    );
    let manager = StatusView {
        manager: Some(digest()),
        ..nobody
    };
    insta::assert_snapshot!("pulse_status_manager", commands::status(&manager, K));
    insta::assert_snapshot!("pulse_privacy_no_team", commands::privacy(None, K));
    insta::assert_snapshot!(
        "pulse_privacy_team_held",
        commands::privacy(Some(("U0MANAGER", WindowStanding::Held)), K)
    );
    insta::assert_snapshot!("pulse_admin", commands::admin(&admin_view()));
    insta::assert_snapshot!(
        "pulse_admin_no_roster",
        commands::admin(&AdminView {
            org_cadence: None,
            teams: Vec::new(),
            more_teams: 0,
            admins: Vec::new(),
        })
    );
}

#[test]
fn admin_modals_notices_and_errors() {
    let cadence = Cadence::builtin_default(date(2026, 11, 30));
    insta::assert_json_snapshot!("cadence_modal_org", cadence_modal(ids::ORG_SCOPE, &cadence));
    insta::assert_json_snapshot!("cadence_modal_team", cadence_modal("U0MANAGER", &cadence));
    insta::assert_json_snapshot!("add_admin_modal", add_admin_modal());
    insta::assert_json_snapshot!("add_admin_no_one_chosen", no_person_chosen());
    let bad = CadenceFlags {
        every: Some("13w".into()),
        ..Default::default()
    }
    .apply(&cadence, date(2026, 11, 30))
    .unwrap_err();
    insta::assert_json_snapshot!("cadence_error", cadence_errors(&bad));
    insta::assert_json_snapshot!("admin_only", admins_only());
    let manager = || "U0MANAGER".to_owned();
    for (name, notice) in [
        (
            "admin_started",
            AdminOutcome::Started {
                manager: manager(),
                invited: 7,
            },
        ),
        (
            "admin_not_started",
            AdminOutcome::NotStarted(
                "U0MANAGER's team already has an open pulse; close it before starting another"
                    .into(),
            ),
        ),
        (
            "admin_reminder_queued",
            AdminOutcome::ReminderQueued { manager: manager() },
        ),
        (
            "admin_nothing_to_remind",
            AdminOutcome::NothingToRemind { manager: manager() },
        ),
        ("admin_closed", AdminOutcome::Closed { manager: manager() }),
        (
            "admin_nothing_to_close",
            AdminOutcome::NothingToClose { manager: manager() },
        ),
        ("admin_last_admin", AdminOutcome::LastAdmin),
    ] {
        insta::assert_json_snapshot!(name, admin_notice(&notice).expect("a notice"));
    }
}

fn commitment(done: bool) -> crate::store::Commitment {
    crate::store::Commitment {
        commitment_id: "c0ffee".into(),
        manager_id: "U0MANAGER".into(),
        window_id: "w1".into(),
        heard: "Some of you want more help from me to get better at your job.".into(),
        will_do: "I will join two of your calls every week & debrief each one.".into(),
        due_on: "2026-12-14".into(),
        done,
    }
}

#[test]
fn closing_the_loop() {
    use super::team_loop::{
        already_shared, done_notice, loop_blocks, seller_commitment_blocks, share_errors,
        share_modal, shared_notice, still_working_notice, team_note,
    };
    use crate::ops::commitments::ShareProblem;
    insta::assert_json_snapshot!(
        "loop_share_modal",
        share_modal(
            "w1",
            "Some of you want more help from me to get better at your job.",
            "Observe one call per seller this week.",
            date(2026, 12, 14)
        )
    );
    insta::assert_json_snapshot!("loop_already_shared", already_shared(&commitment(false)));
    for (name, n) in [
        ("loop_shared_none", 0),
        ("loop_shared_one", 1),
        ("loop_shared_many", 5),
    ] {
        insta::assert_json_snapshot!(name, shared_notice(n));
    }
    let mut errors: Vec<(String, String)> = share_errors(&[
        ShareProblem::HeardMissing,
        ShareProblem::WillDoTooLong,
        ShareProblem::DueInThePast,
    ])
    .into_iter()
    .collect();
    errors.sort();
    insta::assert_json_snapshot!("loop_share_errors", errors);
    insta::assert_json_snapshot!("loop_team_note", team_note(&commitment(false), false));
    insta::assert_json_snapshot!("loop_team_note_done", team_note(&commitment(true), true));
    insta::assert_json_snapshot!("loop_done", done_notice(Some(5)));
    insta::assert_json_snapshot!("loop_already_done", done_notice(None));
    insta::assert_json_snapshot!("loop_still_working", still_working_notice());
    let can_share = TeamLoop {
        can_share: Some("w2".into()),
        commitment: None,
    };
    insta::assert_json_snapshot!("loop_digest_can_share", loop_blocks(&can_share));
    let open = TeamLoop {
        can_share: None,
        commitment: Some(commitment(false)),
    };
    insta::assert_json_snapshot!("loop_digest_open_commitment", loop_blocks(&open));
    insta::assert_json_snapshot!(
        "loop_seller_home",
        seller_commitment_blocks(&commitment(true))
    );
}
