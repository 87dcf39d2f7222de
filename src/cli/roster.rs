//! `trustpulse roster import|show`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use jiff::SignedDuration;

use super::day;
use crate::config::Settings;
use crate::slack::client::SlackApi;
use crate::store::{Membership, Store};
use crate::survey::roster::{PersonRef, Roster, RosterError, RosterRow, parse_csv};

#[derive(Subcommand, Debug)]
pub enum RosterCommand {
    /// Replace the roster with a CSV file whose header is `seller,manager`. Each value is a
    /// Slack user id or an email. The file is all-or-nothing: one bad row and nothing changes.
    Import { file: PathBuf },
    /// Show each team, its sellers and recent changes.
    Show,
}

pub async fn run(command: RosterCommand, store: &Store, settings: &Settings) -> anyhow::Result<()> {
    match command {
        RosterCommand::Import { file } => import(&file, store, settings).await,
        RosterCommand::Show => show(store, settings).await,
    }
}

async fn import(file: &PathBuf, store: &Store, settings: &Settings) -> anyhow::Result<()> {
    let text = std::fs::read(file).with_context(|| format!("could not read {}", file.display()))?;
    let refuse = |e: RosterError| anyhow::anyhow!("{}: {e}\nNothing was changed.", file.display());
    let text = String::from_utf8(text).map_err(|_| {
        refuse(RosterError {
            line: None,
            reason: "the file is not UTF-8 text; save it as CSV UTF-8".into(),
        })
    })?;
    let rows = parse_csv(&text).map_err(refuse)?;
    let rows = resolve(rows, settings).await.map_err(refuse)?;
    let roster = Roster::from_rows(&rows).map_err(refuse)?;

    let change = store.replace_roster(&roster, settings.now()).await?;
    println!(
        "Roster imported: {} sellers in {} teams.",
        roster.len(),
        roster.managers().len()
    );
    if change.joined.is_empty() && change.left.is_empty() {
        println!("Nothing changed since the last import.");
    }
    for (seller, manager) in &change.joined {
        println!("  joined  {seller} → {manager}");
    }
    for (seller, manager) in &change.left {
        println!("  left    {seller} → {manager}");
    }
    Ok(())
}

/// Turns every value into a Slack user id, looking emails up in Slack (`users.lookupByEmail`).
/// An email no one in the workspace has rejects the file with its line.
async fn resolve(
    rows: Vec<RosterRow>,
    settings: &Settings,
) -> Result<Vec<RosterRow<String>>, RosterError> {
    let mut found: HashMap<String, String> = HashMap::new();
    let slack = settings
        .slack_bot_token
        .as_ref()
        .map(|token| SlackApi::new(&settings.slack_api_url, token));
    for row in &rows {
        for person in [&row.seller, &row.manager] {
            let PersonRef::Email(email) = person else {
                continue;
            };
            if found.contains_key(email) {
                continue;
            }
            let Some(slack) = &slack else {
                return Err(RosterError::at(
                    row.line,
                    format!(
                        "{email} is an email; set SLACK_BOT_TOKEN so trustpulse can look it up in Slack, or use the Slack user id"
                    ),
                ));
            };
            match slack.lookup_by_email(email).await {
                Ok(Some(id)) => {
                    found.insert(email.clone(), id);
                }
                Ok(None) => {
                    return Err(RosterError::at(
                        row.line,
                        format!("no one in this Slack workspace has the email {email}"),
                    ));
                }
                Err(e) => {
                    return Err(RosterError::at(
                        row.line,
                        format!("could not look up {email} in Slack ({e})"),
                    ));
                }
            }
        }
    }
    let id = |person: PersonRef| match person {
        PersonRef::Id(id) => id,
        PersonRef::Email(email) => found[&email].clone(),
    };
    Ok(rows
        .into_iter()
        .map(|row| RosterRow {
            line: row.line,
            seller: id(row.seller),
            manager: id(row.manager),
        })
        .collect())
}

async fn show(store: &Store, settings: &Settings) -> anyhow::Result<()> {
    let now = settings.now();
    // Leavers stay on the list for 90 days, so HR can see recent moves.
    let since = now - SignedDuration::from_hours(24 * 90);
    let memberships = store.memberships(since).await?;
    if memberships.is_empty() {
        println!("The roster is empty. Import one with: trustpulse roster import roster.csv");
        return Ok(());
    }
    if let Some(at) = store.last_roster_import().await? {
        println!("Roster, last changed {}", day(at));
    }
    let k = settings.min_respondents.get();
    let mut teams: BTreeMap<&str, Vec<&Membership>> = BTreeMap::new();
    for m in &memberships {
        teams.entry(m.manager_id.as_str()).or_default().push(m);
    }
    for (manager, members) in teams {
        let mut current = 0;
        let mut askable = 0;
        let mut lines = Vec::new();
        for m in members {
            let note = match m.left_at {
                Some(left) => format!("left {} (joined {})", day(left), day(m.joined_at)),
                None => {
                    current += 1;
                    let eligible = store
                        .person(&m.seller_id)
                        .await?
                        .is_none_or(|p| p.is_eligible());
                    askable += usize::from(eligible);
                    let why = if eligible {
                        ""
                    } else {
                        "  (not asked: bot, deactivated or opted out)"
                    };
                    format!("since {}{why}", day(m.joined_at))
                }
            };
            lines.push(format!("    {:<14} {note}", m.seller_id));
        }
        let sellers = if current == 1 { "seller" } else { "sellers" };
        println!("\n{manager}: {current} {sellers}, {askable} can be asked");
        if askable < k as usize {
            println!(
                "    Fewer than {k} people can be asked: this team will not see any numbers until it grows (the privacy minimum is {k})."
            );
        }
        for line in lines {
            println!("{line}");
        }
    }
    Ok(())
}
