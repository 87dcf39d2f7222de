//! The App Home tab, by role, and the admin set-up modals it opens. A person can hold several
//! roles (an admin who also manages a team); each role adds its section.

use std::collections::HashMap;

use jiff::Timestamp;
use serde_json::{Value, json};
use slack_morphism::prelude::SlackView;

use super::blocks::{privacy_line, view};
use crate::ops::AppState;
use crate::ops::admin::AdminOutcome;
use crate::ops::digests::NOT_SCHEDULED;
use crate::ops::views::{self, AdminView, HomeView, SellerView, TeamRow};
use crate::store::SharedChart;
use crate::survey::cadence::{Cadence, CadenceError, format_duration, format_time, weekday_name};

/// Action and callback ids of the admin screens.
pub mod ids {
    pub const EDIT_CADENCE: &str = "admin_edit_cadence";
    pub const START: &str = "admin_start";
    pub const REMIND: &str = "admin_remind";
    pub const CLOSE: &str = "admin_close";
    pub const ADD_ADMIN: &str = "admin_add";
    pub const REMOVE_ADMIN: &str = "admin_remove";
    pub const CADENCE_MODAL: &str = "cadence_modal";
    pub const ADD_ADMIN_MODAL: &str = "add_admin_modal";
    pub const ADMIN_USER_BLOCK: &str = "admin_user";
    pub const ADMIN_USER: &str = "user";
    /// `private_metadata` of the org default's cadence modal (a manager's id otherwise).
    pub const ORG_SCOPE: &str = "org";
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

fn header(text: &str) -> Value {
    json!({"type": "header", "text": {"type": "plain_text", "text": text}})
}

fn button(text: &str, action_id: &str, value: &str) -> Value {
    json!({"type": "button", "action_id": action_id, "value": value, "text": {"type": "plain_text", "text": text}})
}

/// The person's App Home as it is now, with `notice` on top if there is one.
pub async fn home_view(
    state: &AppState,
    person_id: &str,
    notice: Option<&str>,
    now: Timestamp,
) -> anyhow::Result<SlackView> {
    Ok(render_home(
        &views::home(state, person_id, now).await?,
        state.k.get(),
        notice,
    ))
}

/// App Home: a section per role (admin, manager, seller), or a word for someone on no roster;
/// `notice` on top, when one of Home's buttons could not open its form. Home has no
/// conversation for a message only the person sees, and a message in the app's DM would stay
/// in the workspace's history; the notice goes with the next publish of Home (the next time
/// the person opens it).
pub fn render_home(home: &HomeView, k: u32, notice: Option<&str>) -> SlackView {
    let mut blocks = Vec::new();
    if let Some(notice) = notice {
        blocks.push(section(&format!(":warning: {notice}")));
    }
    if let Some(admin) = &home.admin {
        blocks.extend(admin_section(admin));
    }
    if let Some(manager) = &home.manager {
        blocks.extend(super::blocks::digest_blocks(&manager.digest));
        if let Some(chart) = &manager.chart {
            blocks.push(chart_block(chart));
        }
        blocks.extend(super::team_loop::loop_blocks(&manager.team_loop));
    }
    if let Some(seller) = &home.seller {
        blocks.extend(seller_section(seller, k));
    }
    if blocks.is_empty() {
        blocks.push(header("trustpulse"));
        blocks.push(section(
            "trustpulse asks sellers three anonymous questions about their manager and shows each manager how their team's trust is trending. You are not on a team's roster, so there is nothing for you here yet. Your HR team manages the roster.",
        ));
    }
    view(json!({"type": "home", "blocks": blocks}))
}

/// The trend chart shared in the manager's direct message, by its file id: the same picture,
/// and the same words for anyone who cannot see it.
fn chart_block(chart: &SharedChart) -> Value {
    let until = chart
        .shows_until
        .parse()
        .map_or(chart.shows_until.clone(), crate::digest::chart::short_date);
    json!({
        "type": "image",
        "slack_file": {"id": chart.file_id},
        // Slack's limit for an image's alt text.
        "alt_text": chart.alt_text.chars().take(2000).collect::<String>(),
        "title": {"type": "plain_text", "text": format!("Your team's trust, to {until}")},
    })
}

fn seller_section(seller: &SellerView, k: u32) -> Vec<Value> {
    let manager = &seller.manager;
    let window = super::commands::window_in_words(manager, seller.window, k);
    let mut blocks = vec![
        header("Your trust pulse"),
        section(&format!(
            "Every so often you get three questions about <@{manager}>: *Do they care about you? Can they help you? Can you trust them?* Each is a 1 to 5 agreement, plus an optional comment. It takes about 20 seconds."
        )),
        section(&format!(
            "*Who sees what.* {} Your manager sees the team's averages, the share who agree, and comments word for word in random order, never who answered or when. HR sees only how many people took part.",
            privacy_line(k)
        )),
        section(&format!(
            "*Your team now:* {window} {}",
            seller
                .next_pulse
                .as_ref()
                .map_or(NOT_SCHEDULED.to_owned(), |next| {
                    format!("The next pulse opens {next}.")
                })
        )),
    ];
    if let Some(commitment) = &seller.commitment {
        blocks.extend(super::team_loop::seller_commitment_blocks(commitment));
    }
    if seller.opted_out {
        blocks.push(section(
            "You have opted out: you will not be asked until you opt back in.",
        ));
        blocks.push(json!({"type": "actions", "elements": [button("Opt back in", super::blocks::ids::OPT_IN, "in")]}));
    } else {
        blocks.push(json!({"type": "actions", "elements": [button("Opt out of pulses", super::blocks::ids::OPT_OUT, "out")]}));
    }
    blocks
}

fn admin_section(admin: &AdminView) -> Vec<Value> {
    let org = super::commands::org_cadence_words(admin.org_cadence.as_deref());
    let mut blocks = vec![
        header("Admin"),
        section(&format!("*Org default cadence:* {org}")),
        json!({"type": "actions", "elements": [button("Change org cadence", ids::EDIT_CADENCE, ids::ORG_SCOPE)]}),
        json!({"type": "divider"}),
    ];
    if admin.teams.is_empty() {
        blocks.push(section(
            "No roster yet. Import one with `trustpulse roster import roster.csv`.",
        ));
    }
    // Each team takes two blocks: `ops::views` lists at most `HOME_TEAMS` of them here.
    for team in &admin.teams {
        let TeamRow {
            manager,
            sellers,
            eligible,
            ..
        } = team;
        let cadence = team.own_cadence.as_deref().unwrap_or("org default");
        let open = if team.pulse_open {
            " · *pulse open*"
        } else {
            ""
        };
        // Participation only, and only where at least k were invited: HR never sees a score.
        let took_part = team
            .took_part
            .as_ref()
            .map(|words| format!(" · last release: {words}"))
            .unwrap_or_default();
        blocks.push(section(&format!(
            "*<@{manager}>'s team*: {sellers} sellers, {eligible} can be asked{open}{took_part}\nCadence: {cadence}"
        )));
        blocks.push(json!({"type": "actions", "elements": [
            button("Change cadence", ids::EDIT_CADENCE, manager),
            button("Start pulse now", ids::START, manager),
            button("Remind now", ids::REMIND, manager),
            button("Close now", ids::CLOSE, manager),
        ]}));
    }
    if admin.more_teams > 0 {
        blocks.push(section(&format!(
            "…and {} more teams: see `trustpulse roster show`.",
            admin.more_teams
        )));
    }
    blocks.push(json!({"type": "divider"}));
    let names: Vec<String> = admin.admins.iter().map(|a| format!("<@{a}>")).collect();
    blocks.push(section(&format!("*Admins:* {}", names.join(", "))));
    let mut actions = vec![button("Add admin", ids::ADD_ADMIN, "add")];
    for person in admin.admins.iter().take(20) {
        actions.push(button(
            &format!("Remove {person}"),
            ids::REMOVE_ADMIN,
            person,
        ));
    }
    blocks.push(json!({"type": "actions", "elements": actions}));
    blocks
}

/// The modal that edits a cadence, prefilled with its current values. `scope` is
/// [`ids::ORG_SCOPE`] or a manager's id, carried in `private_metadata`.
pub fn cadence_modal(scope: &str, current: &Cadence) -> SlackView {
    let title = if scope == ids::ORG_SCOPE {
        "Org cadence".to_owned()
    } else {
        "Team cadence".to_owned()
    };
    let field = |block_id: &str, label: &str, value: String, hint: &str| {
        json!({
            "type": "input", "block_id": block_id,
            "label": {"type": "plain_text", "text": label},
            "hint": {"type": "plain_text", "text": hint},
            "element": {"type": "plain_text_input", "action_id": "value", "initial_value": value}
        })
    };
    let intro = if scope == ids::ORG_SCOPE {
        "The default for every team without its own cadence.".to_owned()
    } else {
        format!("Only <@{scope}>'s team.")
    };
    view(json!({
        "type": "modal", "callback_id": ids::CADENCE_MODAL, "private_metadata": scope,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(&intro),
            field("every", "How often", format!("{}w", current.every_weeks), "1w to 12w"),
            field("weekday", "Day", weekday_name(current.weekday).to_owned(), "mon, tue, wed, thu, fri, sat or sun"),
            field("time", "Time", format_time(current.time), "HH:MM, 24-hour clock"),
            field("tz", "Time zone", current.zone.to_string(), "seller (each seller's own) or a zone such as Europe/Berlin"),
            field("open-for", "Open for", format_duration(current.open_for), "e.g. 3d or 36h"),
            field("remind-after", "Reminder after", format_duration(current.remind_after), "after the pulse opens, e.g. 2d"),
            field("digest-weekday", "Digest day", weekday_name(current.digest_weekday).to_owned(), "the manager's weekly digest"),
            field("digest-time", "Digest time", format_time(current.digest_time), "HH:MM in the manager's time zone"),
        ]
    }))
}

pub fn add_admin_modal() -> SlackView {
    view(json!({
        "type": "modal", "callback_id": ids::ADD_ADMIN_MODAL,
        "title": {"type": "plain_text", "text": "Add an admin"},
        "submit": {"type": "plain_text", "text": "Add"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section("Admins set up rosters and cadences and see participation counts. They never see a team's scores or comments."),
            {"type": "input", "block_id": ids::ADMIN_USER_BLOCK,
             "label": {"type": "plain_text", "text": "Person"},
             "element": {"type": "users_select", "action_id": ids::ADMIN_USER}}
        ]
    }))
}

/// Said to someone who is not an admin and presses an admin button.
pub fn admins_only() -> SlackView {
    super::blocks::notice_modal(
        "Admins only",
        "Only trustpulse admins can do this. Your HR team can add you with `trustpulse admin add`.",
    )
}

/// What an admin action did, or why not, as a modal (None: nothing to say, App Home shows it).
pub fn admin_notice(outcome: &AdminOutcome) -> Option<SlackView> {
    let (title, text) = match outcome {
        AdminOutcome::Started { manager, invited } => (
            "Pulse started",
            format!(
                "<@{manager}>'s team has a pulse open now: {invited} invitations are on their way."
            ),
        ),
        AdminOutcome::NotStarted(why) => ("Not started", why.clone()),
        AdminOutcome::ReminderQueued { manager } => (
            "Reminder queued",
            format!(
                "Everyone invited in <@{manager}>'s team gets one reminder, answered or not, so that no one can tell who answered."
            ),
        ),
        AdminOutcome::NothingToRemind { manager } => (
            "Nothing to remind",
            format!("<@{manager}>'s team has no open pulse."),
        ),
        AdminOutcome::Closed { manager } => (
            "Pulse closed",
            format!("<@{manager}>'s pulse is closed; no more answers are accepted."),
        ),
        AdminOutcome::NothingToClose { manager } => (
            "Nothing to close",
            format!("<@{manager}>'s team has no open pulse."),
        ),
        AdminOutcome::LastAdmin => (
            "Still needed",
            "You are the last admin. Add another admin before removing this one.".to_owned(),
        ),
        AdminOutcome::AdminRemoved => return None,
    };
    Some(super::blocks::notice_modal(title, &text))
}

/// A cadence modal's error, on the field it is about (block id → message).
pub fn cadence_errors(e: &CadenceError) -> HashMap<String, String> {
    HashMap::from([(
        e.flag.to_owned(),
        format!("{} (for example: {})", e.problem, e.example),
    )])
}

/// The add-admin modal submitted with no one chosen.
pub fn no_person_chosen() -> HashMap<String, String> {
    HashMap::from([(
        ids::ADMIN_USER_BLOCK.to_owned(),
        "Please choose a person.".to_owned(),
    )])
}
