//! The outbox's claims and leases: a claimed row is this worker's until its lease ends, then
//! anyone's; a mark lands once; rows handed back keep their attempts.

use crate::helpers::*;
use jiff::SignedDuration;
use trustpulse::store::{Job, Store};

const LEASE: SignedDuration = SignedDuration::from_secs(120);

async fn queue_invites(store: &Store, n: usize) {
    for i in 1..=n {
        let job = Job::Invite {
            wave_id: "W0WAVE".into(),
            person_id: format!("U0SELLER{i}"),
            remind_at: None,
        };
        assert!(store.enqueue(&job, now(), now()).await.unwrap());
    }
}

on_both_backends! {
    async fn a_claimed_row_is_nobody_elses_until_its_lease_ends(store: Store) {
        queue_invites(&store, 3).await;
        let mut first = store.outbox_round().await.unwrap();
        let claimed = first.claim_due(now(), LEASE, 10).await.unwrap();
        assert_eq!(claimed.len(), 3);
        assert!(claimed.iter().all(|c| c.attempts == 1));
        first.mark_sent(&claimed[0], now()).await.unwrap();

        let mut other = store.outbox_round().await.unwrap();
        let just_before = now() + LEASE - SignedDuration::from_secs(1);
        assert!(other.claim_due(just_before, LEASE, 10).await.unwrap().is_empty(), "still leased");
        // The first worker died: its two unmarked rows come back when the lease ends, never
        // the one it marked.
        let rescued = other.claim_due(now() + LEASE, LEASE, 10).await.unwrap();
        let mut rescued_ids: Vec<&str> = rescued.iter().map(|c| c.key.as_str()).collect();
        rescued_ids.sort_unstable();
        let mut unmarked: Vec<&str> = claimed[1..].iter().map(|c| c.key.as_str()).collect();
        unmarked.sort_unstable();
        assert_eq!(rescued_ids, unmarked);
        assert!(rescued.iter().all(|c| c.attempts == 2), "a rescue counts as an attempt");
        let counts = store.outbox_counts().await.unwrap();
        assert_eq!((counts.sent, counts.sending), (1, 2));
    }

    async fn rows_handed_back_are_due_again_at_the_given_time_without_using_an_attempt(store: Store) {
        queue_invites(&store, 4).await;
        let mut round = store.outbox_round().await.unwrap();
        let claimed = round.claim_due(now(), LEASE, 10).await.unwrap();
        let ids: Vec<&str> = claimed.iter().map(|c| c.key.as_str()).collect();
        let resume = now() + SignedDuration::from_secs(7);
        round.hand_back(&ids, "ratelimited", resume).await.unwrap();
        assert!(round.claim_due(resume - SignedDuration::from_secs(1), LEASE, 10).await.unwrap().is_empty());
        let again = round.claim_due(resume, LEASE, 10).await.unwrap();
        assert_eq!(again.len(), 4, "nothing dropped");
        assert!(again.iter().all(|c| c.attempts == 1), "the 429 did not count");
    }

    async fn a_restarted_single_replica_takes_back_every_lease_at_once(store: Store) {
        queue_invites(&store, 2).await;
        let mut dead = store.outbox_round().await.unwrap();
        assert_eq!(dead.claim_due(now(), LEASE, 10).await.unwrap().len(), 2);
        let restart = now() + SignedDuration::from_secs(5);
        assert_eq!(store.end_all_leases(restart).await.unwrap(), 2);
        let mut fresh = store.outbox_round().await.unwrap();
        assert_eq!(fresh.claim_due(restart, LEASE, 10).await.unwrap().len(), 2);
    }

    // A manager's note to the team, queued first, goes before an invitation due as early,
    // though its key sorts after: jobs go in the order they were due, then queued.
    async fn jobs_due_together_go_in_the_order_they_were_queued(store: Store) {
        let note = Job::TeamNote { commitment_id: "C0NOTE".into(), person_id: "U0SELLER1".into(), done: false };
        let digest = Job::Digest { manager_id: "U0BOSS1".into(), week: "2026-11-30".into() };
        let invite = Job::Invite { wave_id: "W0WAVE".into(), person_id: "U0SELLER1".into(), remind_at: None };
        let later = now() + SignedDuration::from_secs(1);
        assert!(store.enqueue(&digest, now(), now()).await.unwrap());
        assert!(store.enqueue(&note, later, now()).await.unwrap());
        assert!(store.enqueue(&invite, later, later).await.unwrap());
        let mut round = store.outbox_round().await.unwrap();
        let claimed: Vec<Job> = round.claim_due(later, LEASE, 10).await.unwrap().into_iter().map(|c| c.job).collect();
        assert_eq!(claimed, vec![digest, note, invite]);
    }

    // Queued at the same `now` (one tick), due at the same time: still first in, first out,
    // though the second's key sorts first. A pulse's "closed" updates and the next pulse's
    // invitations to the same DM must not swap places.
    async fn jobs_queued_in_one_instant_go_in_the_order_they_were_queued(store: Store) {
        let mut queued = Vec::new();
        for i in 0..6 {
            let invite = Job::Invite { wave_id: format!("W{}", 9 - i), person_id: "U0SELLER1".into(), remind_at: None };
            let closed = Job::CloseMessage { wave_id: format!("W{}", 9 - i), channel: "D0SELLER1".into(), ts: "1.0".into() };
            for job in [invite, closed] {
                assert!(store.enqueue(&job, now(), now()).await.unwrap());
                queued.push(job);
            }
        }
        let mut round = store.outbox_round().await.unwrap();
        let claimed: Vec<Job> = round.claim_due(now(), LEASE, 20).await.unwrap().into_iter().map(|c| c.job).collect();
        assert_eq!(claimed, queued);
    }
}

/// Everyone invited now, reminded two days after.
fn invited_now(_: Option<&str>) -> jiff::Timestamp {
    now()
}

fn two_days_after(invited: jiff::Timestamp) -> Option<jiff::Timestamp> {
    Some(invited + SignedDuration::from_hours(48))
}

/// A team of five and its pulse, everyone invited now and reminded two days after.
async fn open_team_of_five_with_reminders(store: &Store) -> trustpulse::store::OpenedWave {
    import_teams(store, &[team("U0BOSS1", 5)]).await;
    let timing = trustpulse::store::WaveTiming {
        closes_at: now() + SignedDuration::from_hours(72),
        invite_at: &invited_now,
        remind_at: &two_days_after,
    };
    store
        .open_wave("U0BOSS1", "2026-11-30", &timing, k(5), now())
        .await
        .unwrap()
}

on_both_backends! {
    // A pulse opens with its invitations alone; each reminder is queued with its invitation's
    // mark (whatever became of it), due when the pulse planned it, once however often the
    // mark is made; and not at all once the pulse has closed, so a released pulse leaves no
    // row that names anyone.
    async fn an_invitations_reminder_is_queued_with_its_mark_and_only_while_its_pulse_is_open(store: Store) {
        let opened = open_team_of_five_with_reminders(&store).await;
        assert_eq!(store.outbox_counts().await.unwrap().pending, 5, "the invitations alone");

        let mut round = store.outbox_round().await.unwrap();
        let claimed = round.claim_due(now(), LEASE, 10).await.unwrap();
        assert_eq!(claimed.len(), 5);
        assert!(claimed.iter().all(|c| matches!(c.job, Job::Invite { remind_at: Some(_), .. })));
        round.mark_sent(&claimed[0], now()).await.unwrap();
        round.mark_sent(&claimed[0], now()).await.unwrap();
        round.mark_failed(&claimed[1], "cannot_dm_bot", now()).await.unwrap();
        round.mark_dead(&claimed[2], "fatal_error", now()).await.unwrap();
        let counts = store.outbox_counts().await.unwrap();
        assert_eq!(
            (counts.pending, counts.sent, counts.failed, counts.dead),
            (3, 1, 1, 1),
            "a reminder for each invitation done with, refused or not, once"
        );

        let reminded = now() + SignedDuration::from_hours(48);
        let mut later = store.outbox_round().await.unwrap();
        assert!(later.claim_due(reminded - SignedDuration::from_secs(1), SignedDuration::from_hours(72), 10)
            .await.unwrap().iter().all(|c| !matches!(c.job, Job::Remind { .. })), "not before its time");

        assert!(store.close_wave(&opened.wave.wave_id, now()).await.unwrap());
        later.mark_sent(&claimed[3], now()).await.unwrap();
        let counts = store.outbox_counts().await.unwrap();
        assert_eq!((counts.pending, counts.sent), (3, 2), "no reminder once the pulse has closed");
        let due = later.claim_due(reminded, LEASE, 10).await.unwrap();
        assert_eq!(due.len(), 3);
        let person = |job: &Job| match job {
            Job::Invite { wave_id, person_id, .. } | Job::Remind { wave_id, person_id } => {
                assert_eq!(wave_id, &opened.wave.wave_id);
                person_id.clone()
            }
            other => panic!("not an invitation or reminder: {other:?}"),
        };
        let mut reminded: Vec<String> = due.iter().map(|c| person(&c.job)).collect();
        let mut done_with: Vec<String> = claimed[..3].iter().map(|c| person(&c.job)).collect();
        reminded.sort_unstable();
        done_with.sort_unstable();
        assert_eq!(reminded, done_with);
        assert!(due.iter().all(|c| matches!(c.job, Job::Remind { .. })));
    }
}

/// Whether `trustpulse audit` finds every open pulse's reminders reaching all its invitees.
async fn reminders_reach_every_invitee(store: &Store) -> bool {
    let report = store.audit().await.unwrap();
    let check = report.checks.iter().find(|c| {
        c.promise
            .starts_with("every reminder of a pulse goes to all its invitees")
    });
    check.expect("the audit checks the reminders").holds
}

on_both_backends! {
    // Reminders come as invitations are done with, so a pulse part way through its invitations
    // has reminders for some invitees only: the audit counts each invitation still to go (or
    // cancelled with everything else when the app is uninstalled) with the reminder it holds.
    async fn the_audit_counts_an_invitation_still_to_go_with_its_reminder(store: Store) {
        open_team_of_five_with_reminders(&store).await;
        let mut round = store.outbox_round().await.unwrap();
        let claimed = round.claim_due(now(), LEASE, 2).await.unwrap();
        for invitation in &claimed {
            round.mark_sent(invitation, now()).await.unwrap();
        }
        assert_eq!(store.outbox_counts().await.unwrap().pending, 3 + 2, "three invitations to go, two reminders");
        assert!(reminders_reach_every_invitee(&store).await);
        assert_eq!(store.cancel_pending(now()).await.unwrap(), 5);
        assert!(reminders_reach_every_invitee(&store).await, "after an uninstall as well");
    }
}
