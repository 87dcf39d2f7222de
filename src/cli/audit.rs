//! `trustpulse audit`: checks the privacy promises against the database and says what holds.

use crate::store::Store;

/// Prints one line per promise; fails (a non-zero exit) when any does not hold.
pub async fn run(store: &Store) -> anyhow::Result<()> {
    let report = store.audit().await?;
    for check in &report.checks {
        let mark = if check.holds { "ok  " } else { "FAIL" };
        println!("{mark} {}: {}", check.promise, check.detail);
    }
    let broken = report.checks.iter().filter(|c| !c.holds).count();
    if broken > 0 {
        anyhow::bail!(
            "{broken} privacy promise(s) do not hold on this database (the FAIL lines above)"
        );
    }
    println!("All {} checks hold.", report.checks.len());
    Ok(())
}
