//! What each thread of a process did between two readings of `/proc` (Linux): its CPU time,
//! its read and write system calls, and how often it was switched out. `answer_bench` divides
//! them by the answers of a load, so that every run says where an answer's time went (the
//! tokio workers, the answers' writer, the WAL's thread) without `perf`, which a machine may
//! not have or may not allow. Over runs on one machine the counts of calls and switches an
//! answer repeated within a few hundredths, where times moved by a tenth.
//! A thread's CPU time is read as a process's is, by `process_cpu.rs`, which the bench that
//! includes this module includes beside it.

use std::collections::BTreeMap;

use anyhow::Context;

/// One thread's counters, or their difference between two readings.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Counts {
    /// User plus system CPU time, in seconds.
    pub cpu_secs: f64,
    /// Read-like system calls that `/proc` counts (`syscr` in `io`): `read`, `pread64`, …,
    /// but not a socket's `recvfrom`.
    pub reads: u64,
    /// Write-like system calls: `write`, `pwrite64`, `writev`, … (`syscw` in `io`).
    pub writes: u64,
    /// Voluntary and involuntary context switches.
    pub switches: u64,
    /// Nanoseconds it was ready to run but waited for a core (`schedstat`): where a thread
    /// is held up by the others on the machine's two cores rather than by its own work or
    /// the disk.
    pub queued_ns: u64,
}

impl Counts {
    fn since(self, before: Counts) -> Counts {
        Counts {
            cpu_secs: (self.cpu_secs - before.cpu_secs).max(0.0),
            reads: self.reads.saturating_sub(before.reads),
            writes: self.writes.saturating_sub(before.writes),
            switches: self.switches.saturating_sub(before.switches),
            queued_ns: self.queued_ns.saturating_sub(before.queued_ns),
        }
    }

    fn add(&mut self, other: Counts) {
        self.cpu_secs += other.cpu_secs;
        self.reads += other.reads;
        self.writes += other.writes;
        self.switches += other.switches;
        self.queued_ns += other.queued_ns;
    }
}

/// The threads of one process at one moment: by thread id, its name and counters.
#[derive(Debug, Default)]
pub struct Threads(BTreeMap<u32, (String, Counts)>);

impl Threads {
    /// Reads every thread of `pid`. A thread that ends meanwhile is left out.
    pub fn read(pid: u32) -> anyhow::Result<Threads> {
        let mut threads = BTreeMap::new();
        let dir = format!("/proc/{pid}/task");
        for entry in std::fs::read_dir(&dir).with_context(|| format!("could not list {dir}"))? {
            let Ok(tid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Ok(thread) = read_thread(pid, tid) {
                threads.insert(tid, thread);
            }
        }
        Ok(Threads(threads))
    }

    /// The ids of the threads called `name`.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = u32> + 'a {
        self.0
            .iter()
            .filter(move |(_, (thread, _))| thread == name)
            .map(|(tid, _)| *tid)
    }

    /// What the threads did since `before`, summed by name (tokio's workers share one), with
    /// how many threads of each name there were. A thread that started meanwhile counts from
    /// zero; one that ended is lost with its counters.
    pub fn since(&self, before: &Threads) -> BTreeMap<String, (usize, Counts)> {
        let mut by_name: BTreeMap<String, (usize, Counts)> = BTreeMap::new();
        for (tid, (name, now)) in &self.0 {
            let earlier = before.0.get(tid).map_or(Counts::default(), |(_, c)| *c);
            let entry = by_name.entry(name.clone()).or_default();
            entry.0 += 1;
            entry.1.add(now.since(earlier));
        }
        by_name
    }
}

fn read_thread(pid: u32, tid: u32) -> anyhow::Result<(String, Counts)> {
    let path = format!("/proc/{pid}/task/{tid}");
    let io = std::fs::read_to_string(format!("{path}/io"))?;
    let status = std::fs::read_to_string(format!("{path}/status"))?;
    // Time on a core, time waiting for one, slices run.
    let schedstat = std::fs::read_to_string(format!("{path}/schedstat"))?;
    let queued_ns = schedstat
        .split_whitespace()
        .nth(1)
        .context("short schedstat")?
        .parse()?;
    let value = |text: &str, key: &str| -> anyhow::Result<u64> {
        field(text, key, tid)?
            .parse()
            .with_context(|| format!("odd {key} for thread {tid}"))
    };
    Ok((
        field(&status, "Name:", tid)?.to_owned(),
        Counts {
            cpu_secs: super::process_cpu::process_cpu_secs(&format!("{path}/stat")),
            reads: value(&io, "syscr:")?,
            writes: value(&io, "syscw:")?,
            switches: value(&status, "voluntary_ctxt_switches:")?
                + value(&status, "nonvoluntary_ctxt_switches:")?,
            queued_ns,
        },
    ))
}

/// The value after `key` on its line of a `/proc` file such as `status`.
fn field<'a>(text: &'a str, key: &str, tid: u32) -> anyhow::Result<&'a str> {
    Ok(text
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .with_context(|| format!("no {key} for thread {tid}"))?
        .trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_thread_s_own_system_calls_by_its_name() {
        let pid = std::process::id();
        let before = Threads::read(pid).unwrap();
        let (done, wrote) = std::sync::mpsc::channel();
        let (end, ended) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("counted".into())
            .spawn(move || {
                let file = std::env::temp_dir().join(format!("thread_counts.{pid}"));
                for _ in 0..50 {
                    std::fs::write(&file, b"x").unwrap();
                    std::fs::read(&file).unwrap();
                }
                std::fs::remove_file(&file).unwrap();
                done.send(()).unwrap();
                // Alive until read: an ended thread's counters are gone from /proc.
                ended.recv().unwrap();
            })
            .unwrap();
        wrote.recv().unwrap();
        let threads = Threads::read(pid).unwrap().since(&before);
        end.send(()).unwrap();
        worker.join().unwrap();
        let (count, counted) = threads["counted"];
        assert_eq!(count, 1);
        assert!(counted.writes >= 50 && counted.reads >= 50, "{counted:?}");
        // This thread only waited meanwhile: the worker's calls are not counted as its.
        let main = &threads[&std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/comm"))
            .unwrap()
            .trim()
            .to_owned()];
        assert!(main.1.writes < 50, "{main:?}");
    }
}
