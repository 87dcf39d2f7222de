//! When a window is released (DESIGN §3): a window with at least *k* distinct respondents is
//! released with its numbers; one that falls short is held and pooled with the team's next
//! wave(s); one that still falls short after the maximum number of waves is released as "not
//! enough responses", with no numbers at all.

/// The most waves a window may pool by default.
pub const DEFAULT_MAX_WINDOW_WAVES: u32 = 4;

/// The release settings beyond k.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleasePolicy {
    /// Comments need this many respondents; None means the window's own k.
    pub min_comment_respondents: Option<super::MinRespondents>,
    pub max_window_waves: u32,
}

impl Default for ReleasePolicy {
    fn default() -> Self {
        ReleasePolicy {
            min_comment_respondents: None,
            max_window_waves: DEFAULT_MAX_WINDOW_WAVES,
        }
    }
}

impl ReleasePolicy {
    /// The comment minimum for a window whose k is `k` (never below k itself).
    pub fn comment_minimum(&self, k: u32) -> u32 {
        self.min_comment_respondents.map_or(k, |m| m.get().max(k))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowDecision {
    /// Release with numbers.
    Release,
    /// Keep the answers for the team's next wave.
    Hold,
    /// Release as "not enough responses": no numbers.
    ReleaseShort,
}

/// Decides at the close of a window's latest wave. `k` is the window's own minimum (the one in
/// force when it began).
pub fn decide(
    distinct_respondents: u32,
    k: u32,
    closed_waves: u32,
    max_waves: u32,
) -> WindowDecision {
    if super::gates::shows_numbers(distinct_respondents, k) {
        WindowDecision::Release
    } else if closed_waves >= max_waves {
        WindowDecision::ReleaseShort
    } else {
        WindowDecision::Hold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enough_releases_short_holds_until_the_maximum() {
        assert_eq!(decide(5, 5, 1, 4), WindowDecision::Release);
        assert_eq!(decide(4, 5, 1, 4), WindowDecision::Hold);
        assert_eq!(decide(4, 5, 3, 4), WindowDecision::Hold);
        assert_eq!(decide(4, 5, 4, 4), WindowDecision::ReleaseShort);
        assert_eq!(decide(9, 10, 1, 1), WindowDecision::ReleaseShort);
    }
}
