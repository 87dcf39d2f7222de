//! `trustpulse admin add|remove|list`.

use clap::Subcommand;

use crate::config::Settings;
use crate::store::Store;
use crate::survey::roster::is_slack_user_id;

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Let a person use `/pulse admin` and the admin App Home.
    Add { person: String },
    /// Take that right away again.
    Remove { person: String },
    /// Who has it.
    List,
}

pub async fn run(command: AdminCommand, store: &Store, settings: &Settings) -> anyhow::Result<()> {
    match command {
        AdminCommand::Add { person } => {
            check_id(&person)?;
            if store.add_admin(&person, settings.now()).await? {
                println!("{person} can now use /pulse admin.");
            } else {
                println!("{person} already was an admin; nothing changed.");
            }
        }
        AdminCommand::Remove { person } => {
            if store.remove_admin(&person).await? {
                println!("{person} is no longer an admin.");
            } else {
                println!("{person} was not an admin; nothing changed.");
            }
        }
        AdminCommand::List => {
            let admins = store.admins().await?;
            if admins.is_empty() {
                println!("No admins yet. Add one with: trustpulse admin add U0123ABCD");
            }
            for admin in admins {
                println!("{admin}");
            }
        }
    }
    Ok(())
}

fn check_id(person: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        is_slack_user_id(person),
        "'{person}' is not a Slack user id; ids look like U0123ABCD (in Slack: a person's profile → ⋮ → Copy member ID)"
    );
    Ok(())
}
