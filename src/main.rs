use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = trustpulse::cli::Cli::parse();
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
            std::process::ExitCode::FAILURE
        }
    }
}
