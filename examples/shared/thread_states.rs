//! What a thread was doing through a load, read off its state in `/proc` (Linux) every few
//! milliseconds: running or ready to run, waiting for the disk, or asleep. `answer_bench` reads
//! the answers' writer so, because the writer is the one part of an answer that runs in
//! series: at 64 connections the cores stand a fifth idle, and a `perf sched` trace (the
//! sixty-first session) found that idle time where every request was waiting on the writer,
//! while it ran alone on one core or waited for a sync with both cores idle. The threads' table
//! already says how long the writer ran and waited for a core; this adds what the kernel's
//! counters leave out without delay accounting (off by default): how long it waited for the
//! disk, and how long it slept for lack of answers. The readings cost the bench about 1.4% of a
//! core (`answer_bench`'s `STATE_EVERY`), on the same two cores, during trustpulse's load only:
//! a bias against trustpulse, not for it.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Counts of samples by state.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct States {
    /// `R`: running or ready to run.
    pub running: u64,
    /// `D`: in an uninterruptible wait, which for this writer is the disk (a sync, a write
    /// back, a discard of freed blocks).
    pub disk: u64,
    /// `S` and anything else: asleep, waiting for answers, for its turn, or for a lock.
    pub asleep: u64,
}

impl States {
    pub fn samples(&self) -> u64 {
        self.running + self.disk + self.asleep
    }

    /// A count as a percentage of the samples.
    pub fn pct(&self, count: u64) -> f64 {
        100.0 * count as f64 / self.samples().max(1) as f64
    }

    fn count(&mut self, state: char) {
        match state {
            'R' => self.running += 1,
            'D' => self.disk += 1,
            _ => self.asleep += 1,
        }
    }
}

/// The `stat` file of thread `tid` of process `pid`.
pub fn stat_file(pid: u32, tid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/task/{tid}/stat"))
}

/// Reads each file's state once into `states`; a thread that has ended is left out.
pub fn sample(files: &[PathBuf], states: &mut States) {
    for file in files {
        if let Ok(state) = read_state(file) {
            states.count(state);
        }
    }
}

fn read_state(file: &Path) -> anyhow::Result<char> {
    let stat = std::fs::read_to_string(file)?;
    state(&stat).with_context(|| format!("unreadable {}", file.display()))
}

/// The state letter of a `stat` line: `pid (comm) S …`. The name may hold spaces and
/// parentheses, so the letter is the one after the last `)`.
fn state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_read_after_the_threads_name_whatever_it_holds() {
        assert_eq!(state("42 (answers-writer) D 1 2 3"), Some('D'));
        assert_eq!(state("42 (a) b (c)) R 1 2 3"), Some('R'));
        assert_eq!(state("42 (answers-writer"), None);
        let mut states = States::default();
        for letter in ['R', 'D', 'D', 'S', 'I'] {
            states.count(letter);
        }
        assert_eq!(states.samples(), 5);
        assert_eq!(states.pct(states.disk), 40.0);
        assert_eq!(states.pct(states.asleep), 40.0);
    }

    /// The test's own thread, read as it runs: running.
    #[test]
    fn a_running_thread_reads_as_running() {
        // `/proc/thread-self` links to `PID/task/TID`.
        let own = std::fs::read_link("/proc/thread-self").unwrap();
        let tid = own.file_name().unwrap().to_str().unwrap().parse().unwrap();
        let mut states = States::default();
        sample(&[stat_file(std::process::id(), tid)], &mut states);
        assert!(states.running >= 1, "{states:?}");
    }
}
