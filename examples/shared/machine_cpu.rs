//! How busy the whole machine's cores were between two readings of `/proc/stat` (Linux): the
//! share of their time idle, and idle with a disk request outstanding (`iowait`). Taken
//! during a load, it says whether the load's pace was the CPU: a server at the cores' limit
//! leaves them next to no idle time, one whose work waits on something else (a writer's
//! turn, the disk) leaves them idle meanwhile. Sessions read this off `perf` or `vmstat` by
//! hand, and two of them read the cores a third idle where `vmstat` showed 11 to 12% (`perf`
//! sampling with stacks left them idle itself); `answer_bench` now measures it in every run,
//! inside the load's own window.

use anyhow::Context;

/// The machine's CPU time so far, in clock ticks, summed over its cores.
#[derive(Debug, Clone, Copy)]
pub struct MachineCpu {
    /// Every state: user, nice, system, idle, iowait, irq, softirq, steal.
    total: u64,
    idle: u64,
    iowait: u64,
}

/// Shares of the cores' time between two readings, in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Idle {
    /// Idle with no disk request outstanding.
    pub idle_pct: f64,
    /// Idle while a disk request was outstanding: the cores had nothing to run, something
    /// was waiting for the disk.
    pub iowait_pct: f64,
}

impl MachineCpu {
    pub fn read() -> anyhow::Result<MachineCpu> {
        let stat = std::fs::read_to_string("/proc/stat").context("could not read /proc/stat")?;
        MachineCpu::parse(&stat)
    }

    /// From `/proc/stat`'s first line, `cpu  user nice system idle iowait irq softirq steal
    /// guest guest_nice`. Guest time is already inside user and nice, so it is left out.
    fn parse(stat: &str) -> anyhow::Result<MachineCpu> {
        let line = stat
            .lines()
            .find(|l| l.starts_with("cpu "))
            .context("no cpu line in /proc/stat")?;
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|v| v.parse())
            .collect::<Result<_, _>>()
            .with_context(|| format!("unreadable cpu line in /proc/stat: {line}"))?;
        anyhow::ensure!(ticks.len() >= 5, "short cpu line in /proc/stat: {line}");
        Ok(MachineCpu {
            total: ticks.iter().sum(),
            idle: ticks[3],
            iowait: ticks[4],
        })
    }

    /// The shares since `before`; None if no tick passed between them.
    pub fn since(self, before: MachineCpu) -> Option<Idle> {
        let total = self.total.checked_sub(before.total).filter(|t| *t > 0)? as f64;
        let share = |now: u64, then: u64| now.saturating_sub(then) as f64 * 100.0 / total;
        Some(Idle {
            idle_pct: share(self.idle, before.idle),
            iowait_pct: share(self.iowait, before.iowait),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_idle_and_disk_waits_share_of_the_cores_between_two_readings() {
        let before = MachineCpu::parse(
            "cpu  1000 0 500 8000 100 0 50 0 0 0\ncpu0 500 0 250 4000 50 0 25 0 0 0\n",
        )
        .unwrap();
        // 200 ticks later: 90 user, 30 system, 50 idle, 20 iowait, 10 softirq.
        let after = MachineCpu::parse(
            "cpu  1090 0 530 8050 120 0 60 0 0 0\ncpu0 545 0 265 4025 60 0 30 0 0 0\n",
        )
        .unwrap();
        let idle = after.since(before).unwrap();
        assert_eq!(idle.idle_pct, 25.0);
        assert_eq!(idle.iowait_pct, 10.0);
        assert_eq!(before.since(before), None, "no time passed");
        assert!(MachineCpu::parse("intr 1 2 3\n").is_err());
    }

    #[test]
    fn the_machine_s_reading_moves_forward() {
        let before = MachineCpu::read().unwrap();
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(30) {
            std::hint::black_box(spin.elapsed());
        }
        let after = MachineCpu::read().unwrap();
        let idle = after
            .since(before)
            .expect("30 ms of spinning is ticks on some core");
        assert!(
            (0.0..=100.0).contains(&(idle.idle_pct + idle.iowait_pct)),
            "{idle:?}"
        );
    }
}
