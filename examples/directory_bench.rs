//! How long recording one page of Slack's directory (200 people) holds SQLite's write gate,
//! which every answer waits for: at start-up and once a day `serve` reads the whole directory,
//! page by page.
//!
//! ```sh
//! cargo run --release --example directory_bench            # 20,000 people in teams of 100
//! cargo run --release --example directory_bench -- 60000   # people
//! ```
//!
//! Two passes over the same people: the first sync, which gives everyone a time zone (so every
//! team is planned again), then the daily one, which changes nothing.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use trustpulse::store::{Person, Store};
use trustpulse::survey::roster::{Roster, RosterRow};

/// What Slack's `users.list` returns per page, as the sync asks for it.
const PAGE: usize = 200;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let people: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite:{}?mode=rwc",
        dir.path().join("directory.db").display()
    );
    let store = Store::connect(&url).await?;
    let rows: Vec<RosterRow<String>> = (0..people)
        .map(|i| RosterRow {
            line: i as u64 + 2,
            seller: format!("U0S{i:07}"),
            manager: format!("U0M{:05}", i / 100),
        })
        .collect();
    let now = Timestamp::now();
    store
        .replace_roster(&Roster::from_rows(&rows)?, now)
        .await?;
    let ids: Vec<&str> = rows.iter().map(|r| r.seller.as_str()).collect();

    println!("directory of {people} people, pages of {PAGE}, SQLite");
    println!("| pass | pages | per page p50 / max | whole sync |");
    println!("|---|---|---|---|");
    for pass in ["first (every time zone new)", "daily (nothing changed)"] {
        let mut times: Vec<Duration> = Vec::new();
        for page in ids.chunks(PAGE) {
            let page: Vec<Person> = page
                .iter()
                .map(|id| Person {
                    tz: Some("Europe/Berlin".into()),
                    display_name: Some(format!("Seller {id}")),
                    ..Person::from_id(id)
                })
                .collect();
            let started = Instant::now();
            store.upsert_people(&page, Timestamp::now()).await?;
            times.push(started.elapsed());
        }
        let total: Duration = times.iter().sum();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {pass} | {} | {:.1} / {:.1} ms | {:.2} s |",
            times.len(),
            ms(times[times.len() / 2]),
            ms(*times.last().expect("at least one page")),
            total.as_secs_f64()
        );
    }
    store.close().await;
    Ok(())
}
