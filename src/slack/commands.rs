//! `/pulse help | status | privacy | admin`: the text of each reply (always ephemeral). The
//! reply is read from `ops::views`, then written here by pure functions.

use super::blocks::privacy_line;
use crate::ops::AppState;
use crate::ops::digests::NOT_SCHEDULED;
use crate::ops::views::{self, AdminView, StatusView, WindowStanding};

pub async fn reply(state: &AppState, user: &str, text: &str) -> anyhow::Result<String> {
    let mut words = text.split_whitespace();
    let command = words.next().unwrap_or("help").to_ascii_lowercase();
    let k = state.k.get();
    Ok(match command.as_str() {
        "help" => help(),
        "status" => status(&views::status(state, user, state.now()).await?, k),
        "privacy" => {
            let team = match state.store.current_manager_of(user).await? {
                Some(manager) => {
                    let standing = views::window_standing(state, &manager).await?;
                    Some((manager, standing))
                }
                None => None,
            };
            privacy(team.as_ref().map(|(m, s)| (m.as_str(), *s)), k)
        }
        "admin" => match state.store.is_admin(user).await? {
            true => admin(&views::admin(state, None).await?),
            false => NOT_ADMIN.to_owned(),
        },
        other => format!("I don't know `/pulse {other}`.\n\n{}", help()),
    })
}

const NOT_ADMIN: &str = "Sorry, `/pulse admin` is for trustpulse admins. Your HR team can add you with `trustpulse admin add`.";

pub fn help() -> String {
    [
        "*trustpulse*: anonymous trust pulses for sales teams.",
        "`/pulse status`: when your next pulse is, and what has been released for your team",
        "`/pulse privacy`: exactly who sees what",
        "`/pulse admin`: teams, rosters and cadences (admins only)",
        "`/pulse help`: this message",
    ]
    .join("\n")
}

/// `/pulse status`: the manager's digest in text, and the seller's next pulse.
pub fn status(view: &StatusView, k: u32) -> String {
    let mut parts = Vec::new();
    if let Some(digest) = &view.manager {
        parts.push(format!(
            "*Your team's trust*\n{}",
            super::blocks::comments_escaped(digest).to_text()
        ));
    }
    if let Some(seller) = &view.seller {
        let manager = &seller.manager;
        let when = match (seller.opted_out, &seller.next_pulse) {
            (true, _) => {
                "You have opted out, so you will not be asked (opt back in from trustpulse's Home tab)."
                    .to_owned()
            }
            (false, Some(next)) => format!("Your next pulse opens {next}."),
            (false, None) => NOT_SCHEDULED.to_owned(),
        };
        parts.push(format!(
            "{when}\n*What <@{manager}> will see:* the team's average and share of agreement for each question, and comments word for word in random order, only once at least {k} people have answered. Never who answered, or when."
        ));
    }
    if parts.is_empty() {
        parts.push("You are not on a team's roster, so there is no pulse for you. Your HR team manages the roster.".to_owned());
    }
    parts.join("\n\n")
}

/// `/pulse privacy`, with where the person's own team stands when they are on one.
pub fn privacy(team: Option<(&str, WindowStanding)>, k: u32) -> String {
    let team_state = match team {
        Some((manager, standing)) => format!(
            "\n\n*Your team now:* {}",
            window_in_words(manager, standing, k)
        ),
        None => String::new(),
    };
    format!(
        "*Privacy*\n• {}\n• Your manager sees averages, the share who agree and comments (word for word, random order, dated only by the end of the pulse). Never who answered, when, or in what order.\n• HR sees only how many people took part, and only for teams of at least {k}.\n• Who answered and what was answered are stored apart, with nothing linking them; the key that stops double answers is destroyed when results are released.\n• If fewer than {k} answer, the answers are kept and combined with the next pulse instead of being shown.\n• Invitations go out at least {k} at a time (a smaller team all at once), even when your team spans time zones, so no answer can be pinned on you for being asked first.\n• Answers cannot be changed once sent, and the message in Slack never shows them.",
        privacy_line(k)
    ) + &team_state
}

/// The state of a team's current window in words, with no number: what sellers may know.
pub fn window_in_words(manager: &str, standing: WindowStanding, k: u32) -> String {
    match standing {
        WindowStanding::OpenWithHeld => format!("a pulse is open. Too few answered the last one, so its answers are kept and will be combined with this one's; <@{manager}> sees results only if at least {k} different people answered in all."),
        WindowStanding::Open => format!("a pulse is open. <@{manager}> sees results after it closes, and only if at least {k} people answered."),
        WindowStanding::Held => "too few answered the last pulse, so its answers are kept, unseen, and will be combined with the next one's.".to_owned(),
        WindowStanding::Idle => format!("no pulse is open. <@{manager}> sees each released result: averages and shares for the team, and comments word for word, once at least {k} people answered."),
    }
}

/// `/pulse admin`: every team, its size and participation in words (never a score).
pub fn admin(view: &AdminView) -> String {
    let mut lines = vec![format!(
        "*Org default:* {}",
        org_cadence_words(view.org_cadence.as_deref())
    )];
    if view.teams.is_empty() {
        lines.push(
            "No roster yet: import one with `trustpulse roster import roster.csv`.".to_owned(),
        );
    }
    for team in &view.teams {
        let open = if team.pulse_open { ", pulse open" } else { "" };
        // Participation only, and only where at least k were invited: never a score.
        let took_part = team
            .took_part
            .as_ref()
            .map(|words| format!("; last release: {words}"))
            .unwrap_or_default();
        lines.push(format!(
            "• <@{}>: {} sellers, {} can be asked{open}{took_part}",
            team.manager, team.sellers, team.eligible
        ));
    }
    lines.push(
        "Change cadences and start, remind or close pulses from trustpulse's Home tab.".to_owned(),
    );
    lines.join("\n")
}

/// The org default cadence in words for HR, or that none is set (and so nothing is sent).
pub fn org_cadence_words(described: Option<&str>) -> String {
    match described {
        Some(org) => org.to_owned(),
        None => "not set yet, so no pulse is sent (teams with their own cadence excepted). Set it with \"Change org cadence\" below or `trustpulse cadence set`.".to_owned(),
    }
}
