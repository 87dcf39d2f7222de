//! The roster file HR imports: who reports to whom. Parsing and every rule a roster must obey
//! live here, pure; the store only ever receives a [`Roster`] that passed them.
//!
//! The file is all-or-nothing: the first bad row rejects the whole file, with its line number
//! and the reason, and nothing changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// How a roster file names a person: a Slack user id, or an email to look up in Slack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PersonRef {
    Id(String),
    Email(String),
}

impl PersonRef {
    fn parse(value: &str) -> Option<PersonRef> {
        if is_slack_user_id(value) {
            Some(PersonRef::Id(value.to_owned()))
        } else if is_email(value) {
            Some(PersonRef::Email(value.to_ascii_lowercase()))
        } else {
            None
        }
    }
}

impl fmt::Display for PersonRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersonRef::Id(id) | PersonRef::Email(id) => f.write_str(id),
        }
    }
}

/// Slack user ids look like `U0123ABCD` (or `W…` on Enterprise Grid).
pub fn is_slack_user_id(value: &str) -> bool {
    value.len() >= 3
        && value.len() <= 32
        && value.starts_with(['U', 'W'])
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn is_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

/// One data row of the file, with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow<P = PersonRef> {
    pub line: u64,
    pub seller: P,
    pub manager: P,
}

/// Why a roster file was refused. `line` is the 1-based line in the file (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RosterError {
    pub line: Option<u64>,
    pub reason: String,
}

impl fmt::Display for RosterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl RosterError {
    pub fn at(line: u64, reason: impl Into<String>) -> Self {
        RosterError {
            line: Some(line),
            reason: reason.into(),
        }
    }

    fn file(reason: impl Into<String>) -> Self {
        RosterError {
            line: None,
            reason: reason.into(),
        }
    }
}

/// Reads a roster CSV: a header naming the `seller` and `manager` columns (other columns, such
/// as names kept for HR's own reading, are ignored), then one row per seller.
pub fn parse_csv(text: &str) -> Result<Vec<RosterRow>, RosterError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| RosterError::file(format!("the file is not readable CSV: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(seller_col), Some(manager_col)) = (column("seller"), column("manager")) else {
        return Err(RosterError::at(
            1,
            "the header must name the columns seller and manager, e.g. `seller,manager`",
        ));
    };

    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| match e.position() {
            Some(pos) => {
                RosterError::at(pos.line(), format!("not readable CSV: {}", e.kind_reason()))
            }
            None => RosterError::file(format!("the file is not readable CSV: {e}")),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let field = |col: usize, name: &str| -> Result<PersonRef, RosterError> {
            let value = record.get(col).ok_or_else(|| {
                RosterError::at(
                    line,
                    format!("the {name} column is missing (each row needs seller,manager)"),
                )
            })?;
            if value.is_empty() {
                return Err(RosterError::at(line, format!("the {name} is empty")));
            }
            PersonRef::parse(value).ok_or_else(|| {
                RosterError::at(
                    line,
                    format!("the {name} '{value}' is neither a Slack user id (like U0123ABCD) nor an email"),
                )
            })
        };
        rows.push(RosterRow {
            line,
            seller: field(seller_col, "seller")?,
            manager: field(manager_col, "manager")?,
        });
    }
    if rows.is_empty() {
        return Err(RosterError::file(
            "the file has a header but no rows; importing it would remove every team, so nothing was changed",
        ));
    }
    Ok(rows)
}

trait KindReason {
    fn kind_reason(&self) -> String;
}

impl KindReason for csv::Error {
    fn kind_reason(&self) -> String {
        match self.kind() {
            csv::ErrorKind::Utf8 { .. } => "the text is not valid UTF-8".to_owned(),
            _ => self.to_string(),
        }
    }
}

/// A roster that passed every rule: each seller's one manager, by Slack user id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    manager_of: BTreeMap<String, String>,
}

impl Roster {
    /// Checks resolved rows: nobody reports to themselves, no seller has two managers, and no
    /// chain of managers loops back on itself. An exact repeated row is harmless and ignored.
    pub fn from_rows(rows: &[RosterRow<String>]) -> Result<Roster, RosterError> {
        let mut manager_of: BTreeMap<String, String> = BTreeMap::new();
        let mut line_of: HashMap<&str, u64> = HashMap::new();
        for row in rows {
            if row.seller == row.manager {
                return Err(RosterError::at(
                    row.line,
                    format!("{} cannot report to themselves", row.seller),
                ));
            }
            match manager_of.get(&row.seller) {
                Some(manager) if *manager == row.manager => continue,
                Some(manager) => {
                    return Err(RosterError::at(
                        row.line,
                        format!(
                            "{} already reports to {} (line {}); a seller can have only one manager",
                            row.seller,
                            manager,
                            line_of[row.seller.as_str()]
                        ),
                    ));
                }
                None => {
                    manager_of.insert(row.seller.clone(), row.manager.clone());
                    line_of.insert(&row.seller, row.line);
                }
            }
            // The only new edge is seller → manager; a cycle would have to pass through it.
            let mut chain = vec![row.seller.as_str()];
            let mut current = row.manager.as_str();
            while let Some(next) = manager_of.get(current) {
                chain.push(current);
                if next == &row.seller {
                    chain.push(next);
                    return Err(RosterError::at(
                        row.line,
                        format!(
                            "{} is a cycle of managers; someone in it must report to a person outside it",
                            chain.join(" → ")
                        ),
                    ));
                }
                current = next;
            }
        }
        Ok(Roster { manager_of })
    }

    pub fn manager_of(&self, seller: &str) -> Option<&str> {
        self.manager_of.get(seller).map(String::as_str)
    }

    /// (seller, manager) pairs, ordered by seller.
    pub fn assignments(&self) -> impl Iterator<Item = (&str, &str)> {
        self.manager_of
            .iter()
            .map(|(s, m)| (s.as_str(), m.as_str()))
    }

    pub fn managers(&self) -> BTreeSet<&str> {
        self.manager_of.values().map(String::as_str).collect()
    }

    pub fn len(&self) -> usize {
        self.manager_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.manager_of.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(rows: Vec<RosterRow>) -> Vec<RosterRow<String>> {
        rows.into_iter()
            .map(|r| RosterRow {
                line: r.line,
                seller: r.seller.to_string(),
                manager: r.manager.to_string(),
            })
            .collect()
    }

    fn load(text: &str) -> Result<Roster, RosterError> {
        Roster::from_rows(&ids(parse_csv(text)?))
    }

    #[test]
    fn a_good_file_gives_each_seller_one_manager() {
        let roster =
            load("seller,manager\nU0SELLER1,U0BOSS1\nU0SELLER2,U0BOSS1\n\nU0BOSS1,U0VP\n").unwrap();
        assert_eq!(roster.len(), 3);
        assert_eq!(roster.manager_of("U0SELLER2"), Some("U0BOSS1"));
        assert_eq!(
            roster.managers().into_iter().collect::<Vec<_>>(),
            ["U0BOSS1", "U0VP"]
        );
    }

    #[test]
    fn header_columns_may_come_in_any_order_with_extras() {
        let roster = load("Name,Manager,Seller\nAda,U0BOSS1,U0SELLER1\n").unwrap();
        assert_eq!(roster.manager_of("U0SELLER1"), Some("U0BOSS1"));
    }

    #[test]
    fn emails_are_kept_for_lookup() {
        let rows = parse_csv("seller,manager\nAda@Example.com,U0BOSS1\n").unwrap();
        assert_eq!(rows[0].seller, PersonRef::Email("ada@example.com".into()));
    }

    #[test]
    fn every_bad_row_is_refused_with_its_line_and_reason() {
        let cases = [
            ("seller,boss\nU0A,U0B\n", 1, "header"),
            (
                "seller,manager\nU0A,U0B\nU0C\n",
                3,
                "manager column is missing",
            ),
            ("seller,manager\nU0A,U0B\n,U0B\n", 3, "seller is empty"),
            ("seller,manager\nU0A,\n", 2, "manager is empty"),
            ("seller,manager\nU0A,bob\n", 2, "neither a Slack user id"),
            (
                "seller,manager\nU0A,U0B\nU0C,U0C\n",
                3,
                "cannot report to themselves",
            ),
            (
                "seller,manager\nU0A,U0B\nU0C,U0B\nU0A,U0D\n",
                4,
                "already reports to U0B (line 2)",
            ),
            (
                "seller,manager\nU0A,U0B\nU0B,U0C\nU0C,U0A\n",
                4,
                "U0C → U0A → U0B → U0C is a cycle",
            ),
            ("seller,manager\nU0A,U0B\nU0B,U0A\n", 3, "cycle of managers"),
        ];
        for (text, line, reason) in cases {
            let err = load(text).unwrap_err();
            assert_eq!(err.line, Some(line), "{text:?}: {err}");
            assert!(err.to_string().contains(reason), "{text:?}: {err}");
            assert!(
                err.to_string().starts_with(&format!("line {line}: ")),
                "{err}"
            );
        }
    }

    #[test]
    fn an_empty_roster_is_refused_rather_than_removing_everyone() {
        let err = load("seller,manager\n\n").unwrap_err();
        assert!(err.to_string().contains("no rows"));
    }

    #[test]
    fn an_exact_duplicate_row_is_harmless() {
        let roster = load("seller,manager\nU0A,U0B\nU0A,U0B\n").unwrap();
        assert_eq!(roster.len(), 1);
    }
}
