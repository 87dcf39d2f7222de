use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = trustpulse::cli::Cli::parse();
    trustpulse::telemetry::init(cli.settings.log_format, Some(&cli.settings.rust_log));
    match trustpulse::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
