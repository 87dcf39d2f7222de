//! The survey itself, as pure logic: the three follower questions, the 1–5 scale, a ballot,
//! cadence arithmetic and roster rules. Nothing here does I/O or reads the clock; callers pass
//! `now` in.

pub mod cadence;
pub mod next_pulse;
pub mod roster;

use std::borrow::Cow;
use std::fmt;

/// The three "follower questions" a seller answers about their manager. [`Question::ALL`] is
/// the one list everything else follows: the modal, the parsing, the ballot and its columns,
/// the release, the digest and the simulated sellers. A new question is a variant here, its
/// copy (below and in `digest::tips`), and a column per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Question {
    Care,
    Help,
    Trust,
}

impl Question {
    pub const COUNT: usize = 3;
    pub const ALL: [Question; Question::COUNT] = [Question::Care, Question::Help, Question::Trust];

    /// Its place in [`Question::ALL`] (and in every per-question array).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The stored columns of a ballot, in [`Question::ALL`] order, each after `prefix` (a
    /// table alias such as `"b."`, or `""`): `care, help, trust`.
    pub fn columns(prefix: &str) -> String {
        let columns: Vec<String> = Question::ALL
            .iter()
            .map(|q| format!("{prefix}{}", q.key()))
            .collect();
        columns.join(", ")
    }

    /// Stable machine name, used as Slack `block_id`s and in stored aggregates.
    pub fn key(self) -> &'static str {
        match self {
            Question::Care => "care",
            Question::Help => "help",
            Question::Trust => "trust",
        }
    }

    /// Its one-word name in the digest.
    pub fn label(self) -> &'static str {
        match self {
            Question::Care => "Care",
            Question::Help => "Help",
            Question::Trust => "Trust",
        }
    }

    /// The question as the seller reads it.
    pub fn prompt(self) -> &'static str {
        match self {
            Question::Care => "My manager cares about me.",
            Question::Help => "My manager can help me get better at my job.",
            Question::Trust => "I can trust my manager.",
        }
    }
}

/// One answer on the 1–5 agreement scale. The only way to build one is through
/// [`Score::new`], so an out-of-range value can never reach the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Score(u8);

impl Score {
    pub const MIN: i64 = 1;
    pub const MAX: i64 = 5;

    pub fn new(value: i64) -> Result<Score, InvalidScore> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(Score(value as u8))
        } else {
            Err(InvalidScore)
        }
    }

    /// Parses a score as it arrives from Slack (an option value). Anything but the plain
    /// digits 1 to 5 ("4.5", "06", "", " 3") is refused.
    pub fn parse(text: &str) -> Result<Score, InvalidScore> {
        match text {
            "1" | "2" | "3" | "4" | "5" => Score::new(i64::from(text.as_bytes()[0] - b'0')),
            _ => Err(InvalidScore),
        }
    }

    pub fn value(self) -> i64 {
        i64::from(self.0)
    }

    /// What the scale point means, for radio button labels.
    pub fn label(self) -> &'static str {
        match self.0 {
            1 => "Strongly disagree",
            2 => "Disagree",
            3 => "Neither agree nor disagree",
            4 => "Agree",
            _ => "Strongly agree",
        }
    }
}

/// A score outside 1..5. Deliberately carries no value: error messages and logs must never
/// repeat what a seller answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("every answer must be a whole number from 1 to 5")]
pub struct InvalidScore;

/// The optional follow-through item, asked in the first pulse after a manager's commitment
/// fell due: "has your manager done what they said they would?"
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FollowThrough {
    Yes,
    Partly,
    No,
    NotSure,
}

impl FollowThrough {
    pub const ALL: [FollowThrough; 4] = [
        FollowThrough::Yes,
        FollowThrough::Partly,
        FollowThrough::No,
        FollowThrough::NotSure,
    ];

    /// Stored value (1 to 4) and Slack option value.
    pub fn value(self) -> i64 {
        self as i64 + 1
    }

    pub fn from_value(value: i64) -> Result<FollowThrough, InvalidScore> {
        usize::try_from(value - 1)
            .ok()
            .and_then(|i| FollowThrough::ALL.get(i).copied())
            .ok_or(InvalidScore)
    }

    /// Parses an option value as it arrives from Slack: "1" to "4" only.
    pub fn parse(text: &str) -> Result<FollowThrough, InvalidScore> {
        match text {
            "1" | "2" | "3" | "4" => {
                FollowThrough::from_value(i64::from(text.as_bytes()[0] - b'0'))
            }
            _ => Err(InvalidScore),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FollowThrough::Yes => "Yes",
            FollowThrough::Partly => "Partly",
            FollowThrough::No => "No",
            FollowThrough::NotSure => "Not sure",
        }
    }
}

/// One submitted answer set: a score per question, in [`Question::ALL`] order, and the
/// follow-through item when the pulse asked it. No person, no timestamp: see DESIGN §3.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ballot {
    scores: [Score; Question::COUNT],
    follow_through: Option<FollowThrough>,
}

impl Ballot {
    /// A ballot of `values`, one per question in [`Question::ALL`] order.
    pub fn new(values: [i64; Question::COUNT]) -> Result<Ballot, InvalidScore> {
        let mut scores = [Score(1); Question::COUNT];
        for (score, value) in scores.iter_mut().zip(values) {
            *score = Score::new(value)?;
        }
        Ok(Ballot {
            scores,
            follow_through: None,
        })
    }

    /// A ballot from a score for each question.
    pub fn from_scores(score: impl Fn(Question) -> Score) -> Ballot {
        Ballot {
            scores: Question::ALL.map(score),
            follow_through: None,
        }
    }

    /// The same ballot with the follow-through item answered (or not).
    pub fn with_follow_through(self, follow_through: Option<FollowThrough>) -> Ballot {
        Ballot {
            follow_through,
            ..self
        }
    }

    pub fn score(&self, question: Question) -> Score {
        self.scores[question.index()]
    }

    pub fn follow_through(&self) -> Option<FollowThrough> {
        self.follow_through
    }

    /// The values, in [`Question::ALL`] order (for the store).
    pub fn values(&self) -> [i64; Question::COUNT] {
        self.scores.map(Score::value)
    }
}

/// Redacted on purpose, so that a stray `{:?}` can never put an answer into a log line.
impl fmt::Debug for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ballot(<redacted>)")
    }
}

/// Text a person typed into Slack, ready to store: without NUL characters (`\u0000` in Slack's
/// JSON). PostgreSQL's text cannot hold a NUL, so one would fail the statement that carries it,
/// and a NUL never means anything to a reader. Borrowed when there is none, as almost always.
pub fn typed_text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', ""))
    } else {
        Cow::Borrowed(text)
    }
}

/// The longest comment we accept, the same as the modal's `max_length`.
pub const COMMENT_MAX_CHARS: usize = 2000;

/// An optional free-text comment, trimmed; blank means none.
#[derive(Clone, PartialEq, Eq)]
pub struct Comment(String);

impl Comment {
    /// NULs are dropped first ([`typed_text`]): kept, one would fail the whole batch of answers
    /// that holds this comment on PostgreSQL. So a comment of NULs and spaces is none, and NULs
    /// do not count towards the limit.
    pub fn new(text: &str) -> Result<Option<Comment>, CommentTooLong> {
        let text = typed_text(text);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            Ok(None)
        } else if trimmed.chars().count() > COMMENT_MAX_CHARS {
            Err(CommentTooLong)
        } else {
            Ok(Some(Comment(trimmed.to_owned())))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Comment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Comment(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the comment is longer than {COMMENT_MAX_CHARS} characters")]
pub struct CommentTooLong;

/// Answers as they arrive from Slack or a test, not yet checked: a value per question, in
/// [`Question::ALL`] order.
#[derive(Clone, PartialEq, Eq)]
pub struct Answers {
    pub scores: [i64; Question::COUNT],
    /// The follow-through item (1 to 4), when the pulse asked it and the seller answered.
    pub follow_through: Option<i64>,
    pub comment: Option<String>,
}

impl Answers {
    /// Checks every value; nothing about the answers appears in the error.
    pub fn validate(&self) -> Result<(Ballot, Option<Comment>), AnswerError> {
        let follow_through = self
            .follow_through
            .map(FollowThrough::from_value)
            .transpose()?;
        let ballot = Ballot::new(self.scores)?.with_follow_through(follow_through);
        let comment = match &self.comment {
            Some(text) => Comment::new(text)?,
            None => None,
        };
        Ok((ballot, comment))
    }
}

impl fmt::Debug for Answers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Answers(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error(transparent)]
    InvalidScore(#[from] InvalidScore),
    #[error(transparent)]
    CommentTooLong(#[from] CommentTooLong),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_numbers_one_to_five_are_scores() {
        for ok in ["1", "2", "3", "4", "5"] {
            assert!(Score::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["0", "6", "4.5", "", " 3", "03", "-1", "five", "１"] {
            assert_eq!(Score::parse(bad), Err(InvalidScore), "{bad:?}");
        }
        assert!(Ballot::new([1, 5, 3]).is_ok());
        assert!(Ballot::new([0, 5, 3]).is_err());
        assert!(Ballot::new([1, 6, 3]).is_err());
    }

    #[test]
    fn debug_output_never_shows_an_answer() {
        let ballot = Ballot::new([1, 2, 4]).unwrap();
        let comment = Comment::new("my manager ignores me").unwrap().unwrap();
        let shown = format!("{ballot:?} {comment:?}");
        assert!(!shown.contains(['1', '2', '4']));
        assert!(!shown.contains("ignores"));
    }

    #[test]
    fn blank_comments_are_none_and_long_ones_refused() {
        assert_eq!(Comment::new("   \n").unwrap(), None);
        assert!(Comment::new(&"x".repeat(COMMENT_MAX_CHARS)).is_ok());
        assert_eq!(
            Comment::new(&"x".repeat(COMMENT_MAX_CHARS + 1)),
            Err(CommentTooLong)
        );
    }

    #[test]
    fn a_nul_character_is_dropped_from_a_comment() {
        let comment = Comment::new("more\0 1:1s\0").unwrap().unwrap();
        assert_eq!(comment.as_str(), "more 1:1s");
        assert_eq!(Comment::new(" \0 \0").unwrap(), None);
        let at_the_limit = format!("{}\0", "x".repeat(COMMENT_MAX_CHARS));
        assert!(Comment::new(&at_the_limit).unwrap().is_some());
    }
}
