//! A setting that is missing or wrong. Its own module, below everything, because the store
//! reports a bad `DATABASE_URL` with it and the settings (`config`) name the store.

/// A setting that is missing or wrong, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {problem}. {fix}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub problem: String,
    pub fix: String,
}

impl ConfigError {
    pub fn new(setting: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        ConfigError {
            setting,
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}
