//! Logging setup. Logs go to stderr; `RUST_LOG` filters them (default `info`).
//!
//! What must never be logged (DESIGN §3): an answer, a comment, a token, a secret, a signature
//! or a raw request body. Our own code logs ids and reasons only, and types that hold secrets or
//! answers redact themselves in `Debug`. Some libraries log whole payloads at their most verbose
//! levels (slack-morphism prints every Socket Mode frame, which can hold a seller's answers, at
//! TRACE), so those targets are capped at INFO whatever `RUST_LOG` says.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

/// How logs are written: `text` for people, `json` for log collectors.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Libraries whose debug or trace output can contain message bodies.
const CAPPED_TARGETS: &[&str] = &[
    "slack_morphism",
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "hyper_util",
    "h2",
];

/// `spec` (a `RUST_LOG`-style filter) with the payload-logging libraries capped at INFO.
pub fn filter(spec: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    for target in CAPPED_TARGETS {
        let directive: Directive = format!("{target}=info").parse().expect("a valid directive");
        filter = filter.add_directive(directive);
    }
    filter
}

pub fn init(format: LogFormat, rust_log: Option<&str>) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(rust_log.unwrap_or("info")))
        .with_writer(std::io::stderr);
    // A second init (e.g. in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The process-wide Prometheus recorder, installed on first use. Metric labels are fixed words
/// (routes, outcomes, kinds), never a person, a team or a wave.
pub fn metrics() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
            .expect("fixed buckets are valid")
            .install_recorder()
            .expect("the metrics recorder is installed once")
    })
}

/// What went wrong, in words that can carry nothing from a request: the kind of error only.
/// The `Display` of a parse error can quote the payload it failed on (a seller's answers, a
/// comment, a user id), so no error on the path of a request is logged in full. The chat layer
/// adds its own kinds (`slack::errors::error_kind`).
pub fn error_kind(error: &anyhow::Error) -> String {
    error
        .chain()
        .find_map(known_kind)
        .unwrap_or_else(|| "internal error".to_owned())
}

/// A database error known by its code alone (SQLite's extended result code): how the answers'
/// SQLite writer, which does not go through sqlx, reports one. Never a statement or a value.
#[derive(Debug, thiserror::Error)]
#[error("database error (code {0})")]
pub struct DatabaseCode(pub i32);

/// The kind of one cause, for the errors every layer shares (database, parsing); None for
/// any other.
pub fn known_kind(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(e) = cause.downcast_ref::<DatabaseCode>() {
        return Some(e.to_string());
    }
    if let Some(e) = cause.downcast_ref::<sqlx::Error>() {
        let code = e
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| format!(" (code {c})"))
            .unwrap_or_default();
        return Some(format!("database error{code}"));
    }
    if cause.is::<serde_json::Error>() || cause.is::<serde_urlencoded::de::Error>() {
        return Some("could not parse a payload".to_owned());
    }
    None
}
