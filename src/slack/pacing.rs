//! Our own pacing of Slack calls, shared by every sender in the process, so that a fan-out of
//! thousands of DMs stays inside Slack's limits instead of collecting 429s.
//!
//! - `chat.postMessage`: at most one per second per channel, and a workspace-wide cap. Slack
//!   documents the cap only as "several hundred messages per minute"; we default to
//!   [`DEFAULT_POSTS_PER_MINUTE`] = 300, the low end of "several hundred", because going over
//!   risks the app being disabled while going under only makes a fan-out slower (1,000 sellers
//!   in about 3.5 minutes).
//! - Other methods by their documented tier: 1, 20, 50 or 100 calls a minute.
//!
//! The pacer never sleeps: asked at `now`, it says "go" or "not before T", and the worker puts
//! the job back until T. That keeps tests on a manual clock. It is in-process memory; with
//! several replicas each paces itself, and a 429 (recorded in the store) pauses them all.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// Workspace-wide `chat.postMessage` calls per minute.
pub const DEFAULT_POSTS_PER_MINUTE: u32 = 300;

/// Calls a minute by Slack's documented tier (t1 to t4; t5 is "special").
pub fn tier_rate_per_minute(method: &str) -> u32 {
    match method_tier(method) {
        1 => 1,
        2 => 20,
        3 => 50,
        4 => 100,
        // Special methods other than chat.postMessage (auth.test): "hundreds per minute".
        _ => 300,
    }
}

/// The tier of each method trustpulse calls, from Slack's method reference.
pub fn method_tier(method: &str) -> u8 {
    match method {
        "users.list" | "usergroups.users.list" | "usergroups.list" => 2,
        "conversations.open"
        | "chat.update"
        | "chat.delete"
        | "users.lookupByEmail"
        | "apps.connections.open"
        | "team.info" => 3,
        "chat.postEphemeral"
        | "users.info"
        | "views.open"
        | "views.publish"
        | "views.update"
        | "views.push"
        | "files.getUploadURLExternal"
        | "files.completeUploadExternal" => 4,
        _ => 5,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacingConfig {
    pub enabled: bool,
    pub posts_per_minute: u32,
}

impl Default for PacingConfig {
    fn default() -> Self {
        PacingConfig {
            enabled: true,
            posts_per_minute: DEFAULT_POSTS_PER_MINUTE,
        }
    }
}

impl PacingConfig {
    /// No pacing at all (benchmarks of trustpulse's own throughput).
    pub fn off() -> Self {
        PacingConfig {
            enabled: false,
            posts_per_minute: DEFAULT_POSTS_PER_MINUTE,
        }
    }
}

pub use crate::ops::chat::Deferral;

pub struct Pacer {
    config: PacingConfig,
    /// Per key, the instant the next call is free (the "theoretical arrival time" of GCRA).
    next_free: Mutex<HashMap<String, Timestamp>>,
}

/// A rate as GCRA parameters: one call every `interval`, bursts of up to `burst` calls.
#[derive(Clone, Copy)]
struct Rate {
    interval: SignedDuration,
    burst: u32,
}

impl Rate {
    /// At most `calls` in any 60-second window, in bursts of a second's worth plus one (so the
    /// worker's whole-second rounds never leave the allowance idle and lose it). GCRA allows
    /// `burst - 1` calls beyond its steady rate in a window, so the steady rate is lowered by
    /// that much to make the cap hard.
    fn per_minute(calls: u32) -> Rate {
        let calls = calls.max(2);
        let burst = (calls.div_ceil(60) + 1).min(calls);
        let steady = calls - (burst - 1);
        Rate {
            interval: SignedDuration::from_nanos(60_000_000_000 / i64::from(steady)),
            burst,
        }
    }
}

impl Pacer {
    pub fn new(config: PacingConfig) -> Pacer {
        Pacer {
            config,
            next_free: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> PacingConfig {
        self.config
    }

    /// Reserves one call of `method` (to `channel`, for posts) at `now`, or says when to retry.
    pub fn try_acquire(
        &self,
        method: &str,
        channel: Option<&str>,
        now: Timestamp,
    ) -> Result<(), Deferral> {
        if !self.config.enabled {
            return Ok(());
        }
        let mut keys: Vec<(String, Rate, bool)> = Vec::with_capacity(2);
        if method == "chat.postMessage" {
            keys.push((
                method.to_owned(),
                Rate::per_minute(self.config.posts_per_minute),
                true,
            ));
            if let Some(channel) = channel {
                let one_per_second = Rate {
                    interval: SignedDuration::from_secs(1),
                    burst: 1,
                };
                keys.push((format!("{method}:{channel}"), one_per_second, false));
            }
        } else {
            keys.push((
                method.to_owned(),
                Rate::per_minute(tier_rate_per_minute(method)),
                true,
            ));
        }
        let mut next_free = self.next_free.lock().expect("pacer lock");
        // All keys must allow the call; only then is any of them charged.
        for (key, rate, workspace_wide) in &keys {
            let free = next_free.get(key).copied().unwrap_or(now);
            let tolerance = rate.interval * i32::try_from(rate.burst - 1).unwrap_or(0);
            if free > now + tolerance {
                return Err(Deferral {
                    until: free - tolerance,
                    workspace_wide: *workspace_wide,
                });
            }
        }
        for (key, rate, _) in keys {
            let free = next_free.get(&key).copied().unwrap_or(now).max(now);
            next_free.insert(key, free + rate.interval);
        }
        // Keep the map small: forget channels whose slot is long past.
        if next_free.len() > 10_000 {
            next_free.retain(|_, free| *free > now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    /// Calls granted when trying `attempts` different channels each second for `seconds`.
    fn granted_per_second(pacer: &Pacer, seconds: i64, attempts: usize) -> Vec<usize> {
        let mut n = 0;
        (0..seconds)
            .map(|s| {
                (0..attempts)
                    .filter(|_| {
                        n += 1;
                        pacer
                            .try_acquire("chat.postMessage", Some(&format!("D{n}")), at(s))
                            .is_ok()
                    })
                    .count()
            })
            .collect()
    }

    #[test]
    fn the_workspace_post_cap_holds_over_every_minute() {
        let pacer = Pacer::new(PacingConfig::default());
        let per_second = granted_per_second(&pacer, 180, 20);
        for window in per_second.windows(60) {
            assert!(
                window.iter().sum::<usize>() <= 300,
                "{}",
                window.iter().sum::<usize>()
            );
        }
        let total: usize = per_second.iter().sum();
        assert!(
            total >= 855,
            "at least 95% of the allowed pace is used: {total}"
        );
    }

    #[test]
    fn one_post_per_second_per_channel() {
        let pacer = Pacer::new(PacingConfig::default());
        assert!(
            pacer
                .try_acquire("chat.postMessage", Some("D1"), at(0))
                .is_ok()
        );
        let deferral = pacer
            .try_acquire("chat.postMessage", Some("D1"), at(0))
            .unwrap_err();
        assert_eq!(
            deferral,
            Deferral {
                until: at(1),
                workspace_wide: false
            }
        );
        assert!(
            pacer
                .try_acquire("chat.postMessage", Some("D2"), at(0))
                .is_ok(),
            "other channels go on"
        );
        assert!(
            pacer
                .try_acquire("chat.postMessage", Some("D1"), at(1))
                .is_ok()
        );
    }

    #[test]
    fn other_methods_follow_their_tier() {
        let pacer = Pacer::new(PacingConfig::default());
        let opened = (0..60)
            .filter(|_| pacer.try_acquire("conversations.open", None, at(0)).is_ok())
            .count();
        assert_eq!(
            opened, 2,
            "tier 3: 50 a minute, about one per 1.2 s, in bursts of two"
        );
        let granted: usize = (0..60)
            .map(|s| {
                (0..5)
                    .filter(|_| pacer.try_acquire("conversations.open", None, at(s)).is_ok())
                    .count()
            })
            .sum();
        assert!(
            (47..=50).contains(&granted),
            "at most 50 in the minute: {granted}"
        );
    }

    #[test]
    fn off_means_off() {
        let pacer = Pacer::new(PacingConfig::off());
        assert!((0..1000).all(|_| {
            pacer
                .try_acquire("chat.postMessage", Some("D1"), at(0))
                .is_ok()
        }));
    }

    #[test]
    fn tiers_agree_with_slacks_method_reference() {
        for (name, spec) in crate::sim::methods::METHODS.iter() {
            let documented = spec
                .rate_tier
                .trim_start_matches('t')
                .parse::<u8>()
                .unwrap();
            if *name == "apps.connections.open" {
                continue; // t3 in the reference, "Tier 1" on Slack's page; we are rarely calling it.
            }
            assert_eq!(method_tier(name), documented, "{name}");
        }
    }
}
