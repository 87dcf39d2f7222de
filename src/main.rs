use clap::Parser;
use clap::error::ErrorKind;

use trustpulse::config::{EXIT_CONFIG, exit_code};

fn main() -> std::process::ExitCode {
    // First, while the process has one thread: an empty `SETTING=` (an env file's blank line)
    // means "unset", not "set to nothing".
    trustpulse::cli::unset_empty_settings();
    let cli = match trustpulse::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                // A value that does not parse: from a flag or, far more often for a service,
                // from its environment. Either way a configuration error, not a crash.
                ErrorKind::InvalidValue | ErrorKind::ValueValidation => EXIT_CONFIG,
                _ => 2,
            });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        // The demo prints its story on stdout; only problems go to the log.
        let demo = matches!(cli.command, trustpulse::cli::Command::Demo { .. });
        let filter = if demo {
            "warn"
        } else {
            cli.settings.rust_log.as_str()
        };
        trustpulse::telemetry::init(cli.settings.log_format, Some(filter));
        match trustpulse::cli::run(cli).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::from(exit_code(&e))
            }
        }
    })
}
