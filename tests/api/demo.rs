//! `trustpulse demo`: the whole product offline, as a newcomer runs it.

use std::process::Command;

#[test]
fn the_demo_tells_both_teams_stories_without_exposing_a_seller() {
    let charts = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_trustpulse"))
        .args(["demo", "--seed", "1", "--weeks", "12", "--charts"])
        .arg(charts.path())
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // A newcomer's first run: nothing on stderr, no warning that contradicts the demo's own
    // schedule (it once began with `serve`'s "no org cadence is set").
    assert!(
        out.stderr.is_empty(),
        "the demo wrote to stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    for manager in ["Alex", "Sam"] {
        let digests = text.matches(&format!("digest for {manager} ──")).count();
        assert!(
            digests >= 11,
            "{manager} gets a digest every week: {digests}"
        );
        let releases = text
            .split("── ")
            .filter(|d| d.contains(&format!("digest for {manager}")) && d.contains("% agree"))
            .count();
        assert!(
            releases >= 8,
            "{manager}'s digests show releases: {releases}"
        );
    }
    let trust = |name: &str| -> (f64, f64) {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("{name}'s team trust")))
            .unwrap();
        let numbers: Vec<f64> = line
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter_map(|w| w.trim_matches('.').parse().ok())
            .collect();
        (numbers[0], numbers[1])
    };
    let (alex_first, alex_last) = trust("Alex");
    let (sam_first, sam_last) = trust("Sam");
    assert!(
        alex_last < alex_first,
        "command-and-control erodes trust: {alex_first} → {alex_last}"
    );
    assert!(
        sam_last > sam_first,
        "coaching grows trust: {sam_first} → {sam_last}"
    );
    assert!(text.contains("invitations sent") && text.contains("chat.postMessage"));
    // The coaching manager closes the loop every few releases; the other never does.
    let shares = text.matches("── Sam shares with the team:").count();
    assert!(
        (3..=5).contains(&shares),
        "Sam shares every third release: {shares}"
    );
    assert!(!text.contains("Alex shares"), "{text}");
    // Sam's team is asked whether he followed through, and says so more often over time.
    assert!(text.contains("Follow-through since"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("Sam's team follow-through"))
        .unwrap_or_else(|| panic!("{text}"));
    let yes: Vec<f64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(yes[1] >= yes[0], "follow-through rises: {line}");
    assert!(
        text.contains(&format!(
            "commitments shared {shares} ({} notes",
            shares * 8
        )),
        "each share reaches Sam's eight sellers: {text}"
    );
    // Every digest with numbers is followed by its chart, written where the output says.
    for manager in ["alex", "sam"] {
        let written: Vec<_> = std::fs::read_dir(charts.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(manager)
            })
            .collect();
        assert!(written.len() >= 8, "{manager}: {written:?}");
        for path in &written {
            assert!(
                text.contains(&path.display().to_string()),
                "{path:?} is not named"
            );
            let bytes = std::fs::read(path).unwrap();
            assert!(bytes.starts_with(b"\x89PNG"), "{path:?}");
        }
    }
    assert!(text.contains("trend charts "), "{text}");
    // No seller is ever named, so no line can put a seller next to a score.
    assert!(
        !text.contains("U0DEMOALEXS") && !text.contains("U0DEMOSAMS") && !text.contains("D0DEMO"),
        "{text}"
    );
}
