//! `trustpulse audit`: the privacy promises of DESIGN §3, checked against the database itself
//! (and, on SQLite, its files read as bytes), so that HR, a works council or a seller's
//! representative can verify them without trusting the rest of the code.

use super::disk::{FreeSpaceFindings, scan_sqlite_free_space, wal_path};
use super::{Backend, Store};
use crate::digest::release::{Release, ReleaseBody};

/// One promise and whether it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    pub promise: String,
    pub holds: bool,
    /// What was looked at, or what was found when it does not hold.
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    pub checks: Vec<AuditCheck>,
}

impl AuditReport {
    pub fn holds(&self) -> bool {
        self.checks.iter().all(|c| c.holds)
    }

    fn check(&mut self, promise: &str, holds: bool, detail: String) {
        self.checks.push(AuditCheck {
            promise: promise.to_owned(),
            holds,
            detail,
        });
    }

    /// Rows that must not exist: the promise holds when there are none.
    fn none(&mut self, promise: &str, found: i64, what: &str, scope: &str) {
        let detail = if found == 0 {
            scope.to_owned()
        } else {
            format!("found {found} {what}")
        };
        self.check(promise, found == 0, detail);
    }
}

impl Store {
    /// Checks every promise it can see from here; see [`AuditReport`].
    pub async fn audit(&self) -> anyhow::Result<AuditReport> {
        let mut report = AuditReport::default();
        let count = |sql: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&self.pool)
                .await
                .map_err(anyhow::Error::from)
        };
        // On SQLite, ballots and comments may still be where they arrive, for seconds
        // (`sqlite_writer/arrivals.rs`): counted with the tables they are moved to.
        let arriving = |sql: &'static str| async move {
            match self.backend {
                Backend::Sqlite => count(sql).await,
                Backend::Postgres => Ok(0),
            }
        };
        let released = count("SELECT COUNT(*) FROM windows WHERE state = 'released'").await?;
        let scope = format!("{released} released windows checked");

        // What a release deletes: anything not belonging to a window still open is a leftover.
        report.none(
            "no released window keeps its key",
            count("SELECT COUNT(*) FROM window_keys WHERE window_id NOT IN (SELECT window_id FROM windows WHERE state = 'open')").await?,
            "window key(s) of released or unknown windows",
            &scope,
        );
        report.none(
            "no released window keeps a participation token",
            count("SELECT COUNT(*) FROM participation WHERE window_id NOT IN (SELECT window_id FROM windows WHERE state = 'open')").await?
                + arriving("SELECT COUNT(*) FROM arriving_participation WHERE window_id NOT IN (SELECT window_id FROM windows WHERE state = 'open')").await?,
            "participation token(s) of released or unknown windows",
            &scope,
        );
        report.none(
            "no released window keeps a ballot",
            count("SELECT COUNT(*) FROM ballots WHERE wave_id NOT IN (SELECT w.wave_id FROM waves w JOIN windows x ON x.window_id = w.window_id WHERE x.state = 'open')").await?
                + arriving("SELECT COUNT(*) FROM arriving_ballots WHERE wave_id NOT IN (SELECT w.wave_id FROM waves w JOIN windows x ON x.window_id = w.window_id WHERE x.state = 'open')").await?,
            "ballot(s) of released or unknown windows",
            &scope,
        );
        report.none(
            "no released window keeps a comment",
            count("SELECT COUNT(*) FROM comments WHERE wave_id NOT IN (SELECT w.wave_id FROM waves w JOIN windows x ON x.window_id = w.window_id WHERE x.state = 'open')").await?
                + arriving("SELECT COUNT(*) FROM arriving_comments WHERE wave_id NOT IN (SELECT w.wave_id FROM waves w JOIN windows x ON x.window_id = w.window_id WHERE x.state = 'open')").await?,
            "comment(s) of released or unknown windows",
            &scope,
        );

        // Who answered: the outbox treats every invitee alike, and forgets them at release.
        report.none(
            "the outbox keeps no per-person row of a released window",
            count("SELECT COUNT(*) FROM outbox WHERE state NOT IN ('pending', 'sending') AND wave_id IN (SELECT w.wave_id FROM waves w JOIN windows x ON x.window_id = w.window_id WHERE x.state = 'released')").await?,
            "finished invitation, reminder or update row(s) of released windows",
            &scope,
        );
        // When someone used the app: a published Home view's row is deleted (`Job::is_forgotten_when_done`).
        report.none(
            "the outbox keeps no finished Home publish",
            count("SELECT COUNT(*) FROM outbox WHERE kind = 'publish_home' AND state NOT IN ('pending', 'sending')").await?,
            "finished Home publish row(s), each naming its person and when they opened Home",
            "published Home views leave no row",
        );
        // PostgreSQL does not check invitee rows against their waves itself (migration 15):
        // the reminders' check below counts invitees by pulse, and relies on this one.
        report.none(
            "every invitee belongs to a pulse",
            count(
                "SELECT COUNT(*) FROM wave_invitees i
                   WHERE NOT EXISTS (SELECT 1 FROM waves w WHERE w.wave_id = i.wave_id)",
            )
            .await?,
            "invitee row(s) whose pulse does not exist",
            "every invitee row checked",
        );
        // Nor the answer tables' rows (migration 17): their writer locks each pulse and writes
        // only to those still open. A token must also name its pulse's own window, the one a
        // release counts and deletes it by.
        report.none(
            "every token, ballot and comment belongs to a pulse",
            count(
                "SELECT (SELECT COUNT(*) FROM participation p WHERE NOT EXISTS
                           (SELECT 1 FROM waves w
                            WHERE w.wave_id = p.wave_id AND w.window_id = p.window_id))
                      + (SELECT COUNT(*) FROM ballots b
                         WHERE NOT EXISTS (SELECT 1 FROM waves w WHERE w.wave_id = b.wave_id))
                      + (SELECT COUNT(*) FROM comments c
                         WHERE NOT EXISTS (SELECT 1 FROM waves w WHERE w.wave_id = c.wave_id))",
            )
            .await?
                + arriving(
                    "SELECT (SELECT COUNT(*) FROM arriving_participation p WHERE NOT EXISTS
                               (SELECT 1 FROM waves w
                                WHERE w.wave_id = p.wave_id AND w.window_id = p.window_id))
                          + (SELECT COUNT(*) FROM arriving_ballots b
                             WHERE NOT EXISTS (SELECT 1 FROM waves w WHERE w.wave_id = b.wave_id))
                          + (SELECT COUNT(*) FROM arriving_comments c
                             WHERE NOT EXISTS (SELECT 1 FROM waves w WHERE w.wave_id = c.wave_id))",
                )
                .await?,
            "answer row(s) whose pulse does not exist, or whose token names another window",
            "every answer row checked",
        );
        let open_waves = count("SELECT COUNT(*) FROM waves WHERE state = 'open'").await?;
        report.none(
            "every reminder of a pulse goes to all its invitees, not to a chosen few",
            // An invitation not yet done with still holds its reminder (queued once it is:
            // `OutboxRound::mark_sent`), and one cancelled with everything else at an uninstall
            // holds a cancelled one; so each invitee counts once, by the person their row's key
            // names (`invite:` and `remind:` are both seven characters).
            count("SELECT COUNT(*) FROM waves w WHERE w.state = 'open'
                   AND EXISTS (SELECT 1 FROM outbox o WHERE o.wave_id = w.wave_id AND o.kind = 'remind')
                   AND (SELECT COUNT(DISTINCT substr(o.dedup_key, 8)) FROM outbox o
                        WHERE o.wave_id = w.wave_id
                          AND (o.kind = 'remind'
                               OR (o.kind = 'invite' AND o.state IN ('pending', 'sending', 'cancelled'))))
                       <> (SELECT COUNT(*) FROM wave_invitees i WHERE i.wave_id = w.wave_id)").await?,
            "open pulse(s) whose reminders reach only some invitees",
            &format!("{open_waves} open pulses checked"),
        );

        // Who answered an open pulse: its stored key makes its tokens only with the token
        // secret, which is kept outside the database (`privacy::token`).
        report.none(
            "no open pulse's participation tokens can be made from the database alone",
            self.windows_without_token_secret().await?,
            "unreleased window(s) made without TRUSTPULSE_TOKEN_SECRET, whose stored key tells who answered them \
             (set it for `serve`: pulses started from then on are covered)",
            "every unreleased window's tokens need the token secret, kept outside the database",
        );

        // No number under k, counts included.
        report.none(
            "no held window stores how many answered",
            count("SELECT COUNT(*) FROM windows WHERE held_respondents IS NOT NULL").await?,
            "held window(s) with a stored count",
            "held windows keep only that they are held",
        );
        let releases: Vec<(String, Option<i64>, i64, String)> = sqlx::query_as(
            "SELECT r.window_id, r.respondents, x.min_respondents, r.body
             FROM releases r JOIN windows x ON x.window_id = r.window_id ORDER BY r.window_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut under_k = Vec::new();
        for (window_id, respondents, k, body) in &releases {
            let release: Release = serde_json::from_str(body)?;
            let shown = match release.body {
                ReleaseBody::Results { respondents, .. } => Some(i64::from(respondents)),
                ReleaseBody::NotEnoughResponses => None,
            };
            if shown.or(*respondents).is_some_and(|n| n < *k) {
                under_k.push(window_id.clone());
            }
        }
        report.check(
            "no stored release holds a number under k",
            under_k.is_empty(),
            if under_k.is_empty() {
                format!("{} releases checked", releases.len())
            } else {
                format!("releases with a count under k: {}", under_k.join(", "))
            },
        );

        // Deleted means gone from the files too.
        let scrubbed: Option<i64> =
            sqlx::query_scalar("SELECT releases_scrubbed FROM disk_scrubs WHERE scope = 'answers'")
                .fetch_optional(&self.pool)
                .await?;
        let made = count("SELECT COUNT(*) FROM releases").await?;
        let how = match self.backend {
            Backend::Sqlite => "WAL checkpointed and truncated",
            Backend::Postgres => "answer tables rewritten (VACUUM FULL)",
        };
        report.check(
            "every release was followed by a scrub of the disk",
            scrubbed.unwrap_or(0) >= made,
            format!(
                "{how} after {} of {made} releases",
                scrubbed.unwrap_or(0).min(made)
            ),
        );
        match self.backend {
            Backend::Sqlite => self.audit_sqlite_files(&mut report).await?,
            Backend::Postgres => self.audit_postgres_server(&mut report).await?,
        }
        Ok(report)
    }

    /// Where PostgreSQL itself would keep copies of answers outside their tables: the samples
    /// of `ANALYZE` in `pg_statistic`, and the bound values of logged statements in the
    /// server's log.
    async fn audit_postgres_server(&self, report: &mut AuditReport) -> anyhow::Result<()> {
        // Every column of the answer tables (their values are secret, and the share of each
        // pulse's id among their rows is how many answered it), and the window's key: a column
        // added later is checked too (`migrations/postgres/…_no_statistics_of_answers.sql`). The
        // answer tables are partitioned (`…_answers_in_partitions.sql`) and ANALYZE samples each
        // partition by its own settings, so the partitions are checked too, each named by its
        // table.
        let sampled: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT t.relname || '.' || a.attname FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_class t ON t.oid = COALESCE(pg_partition_root(c.oid), c.oid)
             WHERE c.relnamespace = current_schema()::regnamespace AND a.attnum > 0
               AND NOT a.attisdropped
               AND (t.relname IN ('participation', 'ballots', 'comments')
                    OR (t.relname, a.attname) = ('window_keys', 'hmac_key'))
               AND a.attstattarget IS DISTINCT FROM 0
             ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?;
        report.check(
            "PostgreSQL keeps no statistics of window keys, tokens, ballots or comments, nor of how many answered a pulse",
            sampled.is_empty(),
            if sampled.is_empty() {
                "statistics target 0 on every secret column of the answer tables".to_owned()
            } else {
                format!(
                    "ANALYZE copies samples of {} into pg_statistic (run the migrations again)",
                    sampled.join(", ")
                )
            },
        );

        let setting = async |name: &str| -> anyhow::Result<String> {
            // `pg_settings` gives each number without its unit ("250", not "250ms").
            Ok(
                sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = $1")
                    .bind(name.to_owned())
                    .fetch_one(&self.pool)
                    .await?,
            )
        };
        let statement = setting("log_statement").await?;
        let duration: i64 = setting("log_min_duration_statement").await?.parse()?;
        let sampled_duration: i64 = setting("log_min_duration_sample").await?.parse()?;
        let transactions: f64 = setting("log_transaction_sample_rate").await?.parse()?;
        let logged_values: i64 = setting("log_parameter_max_length").await?.parse()?;
        let on_error: i64 = setting("log_parameter_max_length_on_error")
            .await?
            .parse()?;
        let mut logging = Vec::new();
        if matches!(statement.as_str(), "mod" | "all") {
            logging.push(format!("log_statement = {statement}"));
        }
        if duration >= 0 {
            logging.push(format!("log_min_duration_statement = {duration}"));
        }
        if sampled_duration >= 0 {
            logging.push(format!("log_min_duration_sample = {sampled_duration}"));
        }
        if transactions > 0.0 {
            logging.push(format!("log_transaction_sample_rate = {transactions}"));
        }
        let mut leaks = Vec::new();
        if logged_values != 0 && !logging.is_empty() {
            leaks.push(format!(
                "{} with log_parameter_max_length = {logged_values}",
                logging.join(", ")
            ));
        }
        if on_error != 0 {
            // Any statement that fails (a dropped connection, a cancelled query, a deadlock)
            // is then logged with its values. trustpulse's sessions set it to 0 themselves
            // (`POSTGRES_NO_VALUES_IN_ERROR_LOGS`); this reads what they have.
            leaks.push(format!("log_parameter_max_length_on_error = {on_error}"));
        }
        report.check(
            "PostgreSQL writes no answer, token or comment to its server log",
            leaks.is_empty(),
            if leaks.is_empty() {
                "the server logs no statement's values for trustpulse's sessions, failed ones \
                 included"
                    .to_owned()
            } else {
                format!(
                    "the server logs the values of trustpulse's statements ({}): set \
                     log_parameter_max_length and log_parameter_max_length_on_error to 0 for \
                     this database (ALTER DATABASE … SET …), or turn that logging off",
                    leaks.join("; ")
                )
            },
        );
        Ok(())
    }

    async fn audit_sqlite_files(&self, report: &mut AuditReport) -> anyhow::Result<()> {
        let samples = self.sqlite_samples_of_answers().await?;
        report.check(
            "SQLite keeps no sample of the answer tables' keys (sqlite_stat4)",
            samples == 0,
            if samples == 0 {
                "no ANALYZE sample of window keys, tokens, ballots or comments".to_owned()
            } else {
                format!(
                    "{samples} sample(s) of their index keys, left by an ANALYZE someone ran: \
                     the next release's scrub deletes them (or run `DELETE FROM sqlite_stat4`)"
                )
            },
        );
        let secure: i64 = sqlx::query_scalar("PRAGMA secure_delete")
            .fetch_one(&self.pool)
            .await?;
        report.check(
            "SQLite overwrites deleted content with zeros (secure_delete)",
            secure == 1,
            format!("PRAGMA secure_delete = {secure} on trustpulse's connections"),
        );
        let Some(path) = self.sqlite_path() else {
            return Ok(());
        };
        let findings: FreeSpaceFindings = scan_sqlite_free_space(path)?;
        let wal = wal_path(path);
        let wal_bytes = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        report.check(
            "no free page or free block of the database file or its WAL holds old bytes",
            findings.dirty.is_empty(),
            if findings.dirty.is_empty() {
                format!(
                    "{} pages ({} free) of {} and {} frames of its WAL ({wal_bytes} bytes) read",
                    findings.pages,
                    findings.free_pages,
                    path.display(),
                    findings.wal_frames,
                )
            } else {
                findings.dirty.join("; ")
            },
        );
        Ok(())
    }
}
