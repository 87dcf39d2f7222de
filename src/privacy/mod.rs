//! The privacy rules of DESIGN §3 that are pure logic: the respondent minimum *k* and the keyed
//! participation tokens that stop double answers without storing who answered.

pub mod gates;
pub mod invitation_groups;
pub mod token;
pub mod window;

use std::fmt;
use std::str::FromStr;

/// The hard floor for *k*: below three, a manager who knows two answers can compute the third.
pub const MIN_RESPONDENTS_FLOOR: u32 = 3;
/// The industry default for *k*.
pub const MIN_RESPONDENTS_DEFAULT: u32 = 5;

/// *k*: no number about a window is shown unless at least this many distinct people answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MinRespondents(u32);

impl MinRespondents {
    pub fn new(k: u32) -> Result<MinRespondents, MinRespondentsTooLow> {
        if k >= MIN_RESPONDENTS_FLOOR {
            Ok(MinRespondents(k))
        } else {
            Err(MinRespondentsTooLow(k))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for MinRespondents {
    fn default() -> Self {
        MinRespondents(MIN_RESPONDENTS_DEFAULT)
    }
}

impl fmt::Display for MinRespondents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for MinRespondents {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let k: u32 = text
            .trim()
            .parse()
            .map_err(|_| format!("'{text}' is not a whole number (for example: 5)"))?;
        MinRespondents::new(k).map_err(|e| e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0} is below the floor of {MIN_RESPONDENTS_FLOOR}: with fewer respondents a manager who knows \
     some answers could work out the rest, so trustpulse will not run with it (use 5, the default, or more)"
)]
pub struct MinRespondentsTooLow(pub u32);

/// How HR's surfaces put a team's participation in its latest release: "6 of 8 took part" only
/// when at least k took part; under k, "fewer than k" with no digit of the count (a count under k
/// is a number under k). Nothing at all for a team where fewer than k were invited.
pub fn participation_words(respondents: Option<u32>, invited: u32, k: u32) -> Option<String> {
    if !gates::team_can_see_results(invited, k) {
        return None;
    }
    Some(match respondents {
        Some(n) if gates::shows_numbers(n, k) => format!("{n} of {invited} took part"),
        _ => format!("fewer than {k} of {invited} took part"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participation_is_a_number_only_at_k_or_more() {
        assert_eq!(
            participation_words(Some(6), 8, 5).as_deref(),
            Some("6 of 8 took part")
        );
        assert_eq!(
            participation_words(Some(3), 8, 5).as_deref(),
            Some("fewer than 5 of 8 took part")
        );
        assert_eq!(
            participation_words(None, 8, 5).as_deref(),
            Some("fewer than 5 of 8 took part")
        );
        assert_eq!(participation_words(Some(4), 4, 5), None);
    }

    #[test]
    fn k_below_three_is_refused_with_the_reason() {
        assert!(MinRespondents::new(3).is_ok());
        let err = "2".parse::<MinRespondents>().unwrap_err();
        assert!(err.contains("below the floor of 3"), "{err}");
        assert!("five".parse::<MinRespondents>().is_err());
        assert_eq!(MinRespondents::default().get(), 5);
    }
}
