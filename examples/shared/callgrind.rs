//! A server's instructions counted by valgrind's callgrind (`answer_bench --callgrind N`).
//!
//! Why: this machine's timings move by a tenth or more from one run to the next (other
//! tenants, the disk's stalls), so a change of a few microseconds an answer is below the noise
//! of every timed run. Callgrind counts the instructions the program itself executes (user
//! space only, not the kernel's work in its system calls, nor the time the disk takes), and
//! the same binary, inputs and environment give the same count whatever else the machine is
//! doing. The program runs many times slower under it, so it counts, it does not time.
//!
//! Instrumentation starts off and is switched on and off around the measured requests with
//! `callgrind_control`, so the server's start-up and shutdown are left out.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// `valgrind` on the PATH, or why not.
pub fn valgrind() -> anyhow::Result<PathBuf> {
    let found = Command::new("sh")
        .args(["-c", "command -v valgrind"])
        .output()
        .context("could not look for valgrind")?;
    let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    if !found.status.success() || path.is_empty() {
        bail!("--callgrind needs valgrind, which is not on the PATH: apt-get install valgrind");
    }
    Ok(path.into())
}

/// `valgrind`'s arguments before the program: callgrind, collecting nothing until told to,
/// its counts written to `out` when the program ends.
pub fn arguments(out: &Path) -> Vec<String> {
    vec![
        "-q".to_owned(),
        "--tool=callgrind".to_owned(),
        "--instr-atstart=no".to_owned(),
        format!("--callgrind-out-file={}", out.display()),
    ]
}

/// Switches the counting of the process `pid` (started under [`arguments`]) on or off.
pub fn collect(pid: u32, on: bool) -> anyhow::Result<()> {
    let state = if on { "on" } else { "off" };
    let output = Command::new("callgrind_control")
        .args(["-i", state, &pid.to_string()])
        .output()
        .context("could not run callgrind_control (it comes with valgrind)")?;
    if !output.status.success() {
        bail!(
            "callgrind_control -i {state} {pid} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// `callgrind_annotate`'s reading of the file callgrind wrote, every function with what it
/// called (inclusive), read once for all the parts asked of it.
pub struct Annotated(String);

/// Reads `out` with `callgrind_annotate`.
pub fn annotate(out: &Path) -> anyhow::Result<Annotated> {
    let output = Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=100"])
        .arg(out)
        .output()
        .context("could not run callgrind_annotate (it comes with valgrind)")?;
    if !output.status.success() {
        bail!(
            "callgrind_annotate {} failed: {}",
            out.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(Annotated(
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

impl Annotated {
    /// Every instruction counted, the program's totals.
    pub fn total(&self) -> anyhow::Result<u64> {
        // `  1,405,137,190 (100.0%)  PROGRAM TOTALS`
        self.count_on("PROGRAM TOTALS")
            .context("callgrind_annotate printed no program totals")
    }

    /// `function`'s instructions with those of everything it called; 0 for one that never ran
    /// (or was inlined). Names are as callgrind prints them:
    /// `axum::serve::handle_connection::{{closure}}`.
    pub fn inclusive(&self, function: &str) -> u64 {
        // Lines such as `  979,009,527 (69.67%)  ???:axum::serve::handle_connection [/bin/x]`.
        self.count_on(&format!(":{function} [")).unwrap_or(0)
    }

    /// The count that starts the first line holding `marker`.
    fn count_on(&self, marker: &str) -> Option<u64> {
        self.0
            .lines()
            .find(|line| line.contains(marker))
            .and_then(|line| line.split_whitespace().next())
            .and_then(|n| n.replace(',', "").parse().ok())
    }
}
