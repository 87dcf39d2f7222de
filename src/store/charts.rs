//! The trend chart last shared with each manager: Slack's id for the uploaded file, so App
//! Home can show the same picture, and its words. Released numbers only.

use jiff::Timestamp;

use super::{Store, WriteInTurn, secs};

/// A chart uploaded into a manager's direct message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedChart {
    /// The platform's id for the file.
    pub file_id: String,
    /// Every number it draws, in words.
    pub alt_text: String,
    /// The latest release it draws (`YYYY-MM-DD`).
    pub shows_until: String,
}

impl Store {
    /// Remembers the chart just shared with `manager_id`, in place of the one before.
    pub async fn remember_chart(
        &self,
        manager_id: &str,
        chart: &SharedChart,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO trend_charts (manager_id, file_id, alt_text, shows_until, shared_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (manager_id) DO UPDATE SET file_id = excluded.file_id,
                 alt_text = excluded.alt_text, shows_until = excluded.shows_until,
                 shared_at = excluded.shared_at",
        )
        .bind(manager_id)
        .bind(&chart.file_id)
        .bind(&chart.alt_text)
        .bind(&chart.shows_until)
        .bind(secs(now))
        .write_in_turn(self, &self.pool)
        .await?;
        Ok(())
    }

    /// The chart last shared with `manager_id`, if any.
    pub async fn chart_of(&self, manager_id: &str) -> anyhow::Result<Option<SharedChart>> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT file_id, alt_text, shows_until FROM trend_charts WHERE manager_id = $1",
        )
        .bind(manager_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(file_id, alt_text, shows_until)| SharedChart {
            file_id,
            alt_text,
            shows_until,
        }))
    }
}
