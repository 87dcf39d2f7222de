//! `trustpulse digest send --manager ID`: send a manager's digest now.

use clap::Subcommand;

use crate::config::Settings;
use crate::store::{Job, Store};

#[derive(Subcommand, Debug)]
pub enum DigestCommand {
    /// Queue that manager's digest now (a running `trustpulse serve` sends it).
    Send {
        #[arg(long)]
        manager: String,
    },
}

pub async fn run(command: DigestCommand, store: &Store, settings: &Settings) -> anyhow::Result<()> {
    let now = settings.now();
    match command {
        DigestCommand::Send { manager } => {
            anyhow::ensure!(
                store.is_current_manager(&manager).await?,
                "--manager: {manager} leads no team in the current roster; check the id or import the roster first"
            );
            // A digest sent by hand is its own "week", so it never blocks the scheduled one.
            let job = Job::Digest {
                manager_id: manager.clone(),
                week: format!("manual-{}", now.as_second()),
            };
            store.enqueue(&job, now, now).await?;
            println!("{manager}'s digest is queued; a running `trustpulse serve` sends it.");
        }
    }
    Ok(())
}
