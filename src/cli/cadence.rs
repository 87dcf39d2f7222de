//! `trustpulse cadence set|show`.

use clap::{Args, Subcommand};
use jiff::tz::TimeZone;

use crate::config::Settings;
use crate::store::{CadenceScope, Store};
use crate::survey::cadence::{Cadence, CadenceFlags};
use crate::survey::roster::is_slack_user_id;

#[derive(Subcommand, Debug)]
pub enum CadenceCommand {
    /// Set the org default, or with --manager one team's override. Flags left out keep their
    /// current value.
    Set(Box<SetArgs>),
    /// Show the org default and every override.
    Show,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// The team's manager (Slack user id); without it, the org default is set.
    #[arg(long)]
    manager: Option<String>,
    /// How often: 1w to 12w.
    #[arg(long)]
    every: Option<String>,
    /// Day of the week the pulse opens: mon … sun.
    #[arg(long)]
    weekday: Option<String>,
    /// Local time the pulse opens, HH:MM.
    #[arg(long)]
    time: Option<String>,
    /// `seller` (each seller's own Slack time zone; invitations still go out at least k at a
    /// time, so a seller alone in an early zone waits for the next) or an IANA name such as
    /// Europe/Berlin.
    #[arg(long)]
    tz: Option<String>,
    /// How long a pulse stays open, e.g. 3d or 36h.
    #[arg(long)]
    open_for: Option<String>,
    /// When non-respondents get their one reminder, counted from the opening, e.g. 2d.
    #[arg(long)]
    remind_after: Option<String>,
    /// Day of the manager's weekly digest.
    #[arg(long)]
    digest_weekday: Option<String>,
    /// Time of the digest, HH:MM in the manager's own time zone.
    #[arg(long)]
    digest_time: Option<String>,
}

pub async fn run(
    command: CadenceCommand,
    store: &Store,
    settings: &Settings,
) -> anyhow::Result<()> {
    match command {
        CadenceCommand::Set(args) => set(*args, store, settings).await,
        CadenceCommand::Show => show(store, settings).await,
    }
}

async fn set(args: SetArgs, store: &Store, settings: &Settings) -> anyhow::Result<()> {
    let now = settings.now();
    let today = now.to_zoned(TimeZone::UTC).date();
    let scope = match args.manager {
        None => CadenceScope::Org,
        Some(manager) => {
            anyhow::ensure!(
                is_slack_user_id(&manager),
                "--manager: '{manager}' is not a Slack user id (for example: --manager U0123ABCD)"
            );
            anyhow::ensure!(
                store.is_current_manager(&manager).await?,
                "--manager: {manager} leads no team in the current roster; check the id or import the roster first"
            );
            CadenceScope::Manager(manager)
        }
    };
    let base = match &scope {
        CadenceScope::Org => store.org_cadence(today).await?,
        CadenceScope::Manager(id) => store.effective_cadence(id, today).await?,
    };
    let flags = CadenceFlags {
        every: args.every,
        weekday: args.weekday,
        time: args.time,
        tz: args.tz,
        open_for: args.open_for,
        remind_after: args.remind_after,
        digest_weekday: args.digest_weekday,
        digest_time: args.digest_time,
    };
    let cadence = flags.apply(&base, today)?;
    store.set_cadence(&scope, &cadence, now).await?;
    println!("{}: {}", scope_name(&scope), cadence.describe());
    Ok(())
}

async fn show(store: &Store, settings: &Settings) -> anyhow::Result<()> {
    let now = settings.now();
    let today = now.to_zoned(TimeZone::UTC).date();
    let stored = store.cadences().await?;
    if !stored.iter().any(|(scope, _)| *scope == CadenceScope::Org) {
        println!(
            "Org default: not set, so no pulse is sent (teams with their own cadence excepted). \
             `trustpulse cadence set` with no flags sets the built-in one: {}",
            Cadence::builtin_default(today).describe()
        );
    }
    for (scope, cadence) in &stored {
        println!("{}: {}", scope_name(scope), cadence.describe());
    }
    Ok(())
}

fn scope_name(scope: &CadenceScope) -> String {
    match scope {
        CadenceScope::Org => "Org default".to_owned(),
        CadenceScope::Manager(id) => format!("Team of {id}"),
    }
}
