//! Logging setup. Logs go to stderr; `RUST_LOG` filters them (default `info`).
//!
//! What must never be logged (DESIGN §3): an answer, a comment, a token, a secret, a signature
//! or a raw request body. Types that hold such things redact themselves in `Debug`.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (e.g. in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
