//! The thresholds of DESIGN §3, each decided here and only here: what a window's respondents
//! allow to be shown. The release (`digest::release::compute_release`) asks these; nothing
//! else compares a count with k.

/// Numbers about a window (means, shares, counts) need at least `k` distinct respondents.
pub fn shows_numbers(respondents: u32, k: u32) -> bool {
    respondents >= k
}

/// The 1–5 distribution of each question needs twice as many: with fewer, a distribution
/// can single out the one person who chose an extreme.
pub fn shows_distribution(respondents: u32, k: u32) -> bool {
    respondents >= 2 * k
}

/// Comments need the comment minimum (at least k).
pub fn shows_comments(respondents: u32, comment_minimum: u32) -> bool {
    respondents >= comment_minimum
}

/// Whether a team can be asked at all: with fewer than `k` people who can be asked, no window
/// of theirs could ever show a number.
pub fn team_can_see_results(eligible: u32, k: u32) -> bool {
    eligible >= k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_gate_opens_exactly_at_its_threshold() {
        assert!(!shows_numbers(4, 5) && shows_numbers(5, 5));
        assert!(!shows_distribution(9, 5) && shows_distribution(10, 5));
        assert!(!shows_comments(6, 7) && shows_comments(7, 7));
        assert!(!team_can_see_results(4, 5) && team_can_see_results(5, 5));
    }
}
