//! The `trustpulse` command line (DESIGN §6). Each command writes to the store; a running
//! `serve` picks the resulting work up, so the CLI works while the server runs.

mod admin;
mod audit;
mod cadence;
mod digest;
mod healthcheck;
mod roster;
mod wave;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::Settings;
use crate::store::Store;

/// Anonymous team-trust pulse surveys in Slack.
#[derive(Parser, Debug)]
#[command(name = "trustpulse", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the bot: Slack endpoints (or Socket Mode) and the delivery worker.
    Serve,
    /// Apply database migrations and exit (they also run at start-up).
    Migrate,
    /// See the whole product offline: a simulated sales org, a fake Slack, simulated weeks.
    Demo {
        /// Makes the run repeatable.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many weeks to simulate.
        #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=104))]
        weeks: u32,
        /// Where to write the trend charts the managers receive (PNG files; the folder is
        /// created if needed).
        #[arg(long, default_value = "trustpulse-demo-charts")]
        charts: std::path::PathBuf,
    },
    /// Import or show who reports to whom.
    #[command(subcommand)]
    Roster(roster::RosterCommand),
    /// Set or show how often teams are asked.
    #[command(subcommand)]
    Cadence(cadence::CadenceCommand),
    /// Start, remind or close a team's pulse by hand.
    #[command(subcommand)]
    Wave(wave::WaveCommand),
    /// Send a manager's digest by hand.
    #[command(subcommand)]
    Digest(digest::DigestCommand),
    /// Manage who may use `/pulse admin`.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Check the privacy promises against the database (and its files) and say what holds;
    /// exits non-zero when one does not.
    Audit,
    /// Ask a running `serve` on this machine whether it is healthy (for a container's
    /// HEALTHCHECK): exit 0 when `/healthz` answers, 1 otherwise.
    Healthcheck,
    /// Print a shell completion script, e.g. `trustpulse completions bash > /etc/bash_completion.d/trustpulse`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs one command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    let command = match cli.command {
        // `serve` owns its store and runs until stopped.
        Command::Serve => return crate::app::serve(&settings).await,
        // The demo brings its own fake Slack and a temporary database.
        Command::Demo {
            seed,
            weeks,
            charts,
        } => {
            crate::sim::demo::run(seed, weeks, &charts, &mut std::io::stdout()).await?;
            return Ok(());
        }
        // Neither touches the database.
        Command::Healthcheck => return healthcheck::run(&settings).await,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "trustpulse", &mut script);
            // A closed pipe (`| head`) is the reader's choice, not an error.
            return match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            };
        }
        other => other,
    };
    let store = Store::connect_with(&settings.database_url, settings.token_secrets()?).await?;
    if matches!(command, Command::Wave(wave::WaveCommand::Start { .. })) {
        // A pulse started here must make the tokens `serve` makes: the same secrets.
        store.check_token_secrets().await?;
    }
    let result = match command {
        Command::Serve
        | Command::Demo { .. }
        | Command::Healthcheck
        | Command::Completions { .. } => Ok(()),
        Command::Migrate => {
            println!("The database is up to date.");
            Ok(())
        }
        Command::Roster(command) => roster::run(command, &store, &settings).await,
        Command::Cadence(command) => cadence::run(command, &store, &settings).await,
        Command::Wave(command) => wave::run(command, &store, &settings).await,
        Command::Digest(command) => digest::run(command, &store, &settings).await,
        Command::Admin(command) => admin::run(command, &store, &settings).await,
        Command::Audit => audit::run(&store).await,
    };
    store.close().await;
    result
}

/// Removes every setting's environment variable that is set but empty, so that `SETTING=` (a
/// blank line of an env file, as in `.env.example`) means "unset" and its default applies.
/// Call it first thing in `main`, before any other thread exists: changing the environment is
/// only sound while no other thread can read it.
pub fn unset_empty_settings() {
    let command = Cli::command();
    for arg in command.get_arguments() {
        let Some(name) = arg.get_env() else { continue };
        let empty = std::env::var_os(name).is_some_and(|v| v.to_string_lossy().trim().is_empty());
        if empty {
            // SAFETY: called at the start of `main`, while the process has a single thread.
            unsafe { std::env::remove_var(name) };
        }
    }
}

/// A date for people: `2026-11-23`.
fn day(at: jiff::Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::UTC).date().to_string()
}
