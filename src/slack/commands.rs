//! `/pulse help | status | privacy | admin`: the text of each reply (always ephemeral).

use super::blocks::privacy_line;
use crate::ops::AppState;
use crate::ops::digests::next_pulse_words;
use crate::privacy::participation_words;

pub async fn reply(state: &AppState, user: &str, text: &str) -> anyhow::Result<String> {
    let mut words = text.split_whitespace();
    let command = words.next().unwrap_or("help").to_ascii_lowercase();
    match command.as_str() {
        "help" => Ok(help()),
        "status" => status(state, user).await,
        "privacy" => privacy(state, user).await,
        "admin" => admin(state, user).await,
        other => Ok(format!("I don't know `/pulse {other}`.\n\n{}", help())),
    }
}

fn help() -> String {
    [
        "*trustpulse*: anonymous trust pulses for sales teams.",
        "`/pulse status`: when your next pulse is, and what has been released for your team",
        "`/pulse privacy`: exactly who sees what",
        "`/pulse admin`: teams, rosters and cadences (admins only)",
        "`/pulse help`: this message",
    ]
    .join("\n")
}

async fn status(state: &AppState, user: &str) -> anyhow::Result<String> {
    let store = &state.store;
    let now = state.now();
    let k = state.k.get();
    let mut parts = Vec::new();
    if store.is_current_manager(user).await? {
        let digest = crate::ops::digests::digest_for(state, user, now).await?;
        parts.push(format!(
            "*Your team's trust*\n{}",
            super::blocks::comments_escaped(&digest).to_text()
        ));
    }
    if let Some(manager) = store.current_manager_of(user).await? {
        let person = store.person(user).await?;
        let next = next_pulse_words(state, &manager, person.as_ref(), now).await?;
        let opted_out = person.is_some_and(|p| p.opted_out);
        let when = match (opted_out, next) {
            (true, _) => {
                "You have opted out, so you will not be asked (opt back in from trustpulse's Home tab)."
                    .to_owned()
            }
            (false, Some(next)) => format!("Your next pulse opens {next}."),
            (false, None) => crate::ops::digests::NOT_SCHEDULED.to_owned(),
        };
        parts.push(format!(
            "{when}\n*What <@{manager}> will see:* the team's average and share of agreement for each question, and comments word for word in random order, only once at least {k} people have answered. Never who answered, or when."
        ));
    }
    if parts.is_empty() {
        parts.push("You are not on a team's roster, so there is no pulse for you. Your HR team manages the roster.".to_owned());
    }
    Ok(parts.join("\n\n"))
}

async fn privacy(state: &AppState, user: &str) -> anyhow::Result<String> {
    let k = state.k.get();
    let team_state = match state.store.current_manager_of(user).await? {
        Some(manager) => format!(
            "\n\n*Your team now:* {}",
            window_in_words(state, &manager).await?
        ),
        None => String::new(),
    };
    Ok(format!(
        "*Privacy*\n• {}\n• Your manager sees averages, the share who agree and comments (word for word, random order, dated only by the end of the pulse). Never who answered, when, or in what order.\n• HR sees only how many people took part, and only for teams of at least {k}.\n• Who answered and what was answered are stored apart, with nothing linking them; the key that stops double answers is destroyed when results are released.\n• If fewer than {k} answer, the answers are kept and combined with the next pulse instead of being shown.\n• Answers cannot be changed once sent, and the message in Slack never shows them.",
        privacy_line(k)
    ) + &team_state)
}

/// The state of a team's current window in words, with no number: what sellers may know.
pub async fn window_in_words(state: &AppState, manager: &str) -> anyhow::Result<String> {
    let k = state.k.get();
    let store = &state.store;
    let open = store.open_wave_of(manager).await?.is_some();
    let held = store
        .held_window(manager, state.release_policy.max_window_waves)
        .await?
        .is_some();
    Ok(match (open, held) {
        (true, true) => format!("a pulse is open. Too few answered the last one, so its answers are kept and will be combined with this one's; <@{manager}> sees results only if at least {k} different people answered in all."),
        (true, false) => format!("a pulse is open. <@{manager}> sees results after it closes, and only if at least {k} people answered."),
        (false, true) => "too few answered the last pulse, so its answers are kept, unseen, and will be combined with the next one's.".to_owned(),
        (false, false) => format!("no pulse is open. <@{manager}> sees each released result: averages and shares for the team, and comments word for word, once at least {k} people answered."),
    })
}

async fn admin(state: &AppState, user: &str) -> anyhow::Result<String> {
    let store = &state.store;
    if !store.is_admin(user).await? {
        return Ok("Sorry, `/pulse admin` is for trustpulse admins. Your HR team can add you with `trustpulse admin add`.".to_owned());
    }
    let mut lines = vec![format!(
        "*Org default:* {}",
        org_cadence_words(store).await?
    )];
    let teams = store.team_sizes().await?;
    if teams.is_empty() {
        lines.push(
            "No roster yet: import one with `trustpulse roster import roster.csv`.".to_owned(),
        );
    }
    let participation = store.latest_participation().await?;
    let k = state.k.get();
    for (manager, sellers, eligible) in teams {
        let open = if store.open_wave_of(&manager).await?.is_some() {
            ", pulse open"
        } else {
            ""
        };
        // Participation only, and only where at least k were invited: never a score.
        let took_part = participation
            .iter()
            .find(|p| p.manager_id == manager)
            .and_then(|p| participation_words(p.respondents, p.invited, k))
            .map(|words| format!("; last release: {words}"))
            .unwrap_or_default();
        lines.push(format!(
            "• <@{manager}>: {sellers} sellers, {eligible} can be asked{open}{took_part}"
        ));
    }
    lines.push(
        "Change cadences and start, remind or close pulses from trustpulse's Home tab.".to_owned(),
    );
    Ok(lines.join("\n"))
}

/// The org default cadence in words for HR, or that none is set (and so nothing is sent).
pub async fn org_cadence_words(store: &crate::store::Store) -> anyhow::Result<String> {
    Ok(match store.cadence(&crate::store::CadenceScope::Org).await? {
        Some(org) => org.describe(),
        None => "not set yet, so no pulse is sent (teams with their own cadence excepted). Set it with \"Change org cadence\" below or `trustpulse cadence set`.".to_owned(),
    })
}
