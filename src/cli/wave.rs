//! `trustpulse wave start|remind|close --manager ID`. The CLI writes to the store; a running
//! `serve` delivers what was queued.

use clap::Subcommand;

use crate::config::Settings;
use crate::ops::waves;
use crate::privacy::window::WindowDecision;
use crate::store::{OpenWaveError, Store};

#[derive(Subcommand, Debug)]
pub enum WaveCommand {
    /// Open a pulse for the team now and queue one invitation per seller. Repeat `--manager`
    /// to open several teams' pulses in one go.
    Start {
        #[arg(long, required = true)]
        manager: Vec<String>,
    },
    /// Queue the one reminder for every invitee, answered or not (so no one can tell who
    /// answered).
    Remind {
        #[arg(long)]
        manager: String,
    },
    /// Close the team's open pulse now.
    Close {
        #[arg(long)]
        manager: String,
    },
}

pub async fn run(command: WaveCommand, store: &Store, settings: &Settings) -> anyhow::Result<()> {
    let now = settings.now();
    match command {
        WaveCommand::Start { manager } => start(store, settings, &manager, now).await?,
        WaveCommand::Remind { manager } => match waves::remind_wave(store, &manager, now).await? {
            Some(_) => println!(
                "Reminders queued for everyone invited in {manager}'s team, answered or not: the reminder says so, so that no one can tell who answered. A reminder already sent is not sent again."
            ),
            None => anyhow::bail!("{manager}'s team has no open pulse to remind about"),
        },
        WaveCommand::Close { manager } => {
            match waves::close_wave(store, &manager, &settings.release_policy(), now).await? {
                Some((_, decision)) => {
                    let outcome = match decision {
                        WindowDecision::Release => "its results are released to the manager",
                        WindowDecision::Hold => {
                            "too few answered to show results safely, so the answers are kept for the next pulse"
                        }
                        WindowDecision::ReleaseShort => {
                            "too few answered even pooled over several pulses, so it is reported with no numbers"
                        }
                    };
                    println!(
                        "{manager}'s pulse is closed; no more answers are accepted. {outcome}."
                    );
                }
                None => anyhow::bail!("{manager}'s team has no open pulse to close"),
            }
        }
    }
    Ok(())
}

/// Opens a pulse for each of `managers`' teams, in the order given. A team that cannot have
/// one now (its pulse is open, no one to ask) is said so and the others still get theirs; the
/// command then fails, naming those teams. Any other error (the database, the token secret)
/// would fail every team alike, so it stops the command at once.
async fn start(
    store: &Store,
    settings: &Settings,
    managers: &[String],
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let mut refused = Vec::new();
    for manager in managers {
        match waves::start_wave(store, manager, settings.min_respondents, now).await {
            Ok(opened) => println!(
                "Pulse opened for {manager}'s team until {}: {} invitations queued (a running `trustpulse serve` sends them).",
                opened.wave.closes_at,
                opened.invitees.len()
            ),
            Err(OpenWaveError::Internal(e)) => return Err(e),
            // One team alone: its reason is the command's error, as it always was.
            Err(refusal) if managers.len() == 1 => return Err(refusal.into()),
            Err(refusal) => {
                eprintln!("No pulse opened for {manager}'s team: {refusal}.");
                refused.push(manager.as_str());
            }
        }
    }
    if !refused.is_empty() {
        anyhow::bail!(
            "{} of {} teams got no pulse (said above): {}; the others' pulses are open",
            refused.len(),
            managers.len(),
            refused.join(", ")
        );
    }
    Ok(())
}
