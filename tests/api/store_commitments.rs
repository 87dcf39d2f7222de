//! Commitments in the store, on both backends: one per release, its notes queued with it for
//! each current seller who can be asked, "done" once.

use crate::helpers::*;
use trustpulse::store::{NewCommitment, Shared, Store};

async fn team_notes(store: &Store) -> i64 {
    store.outbox_counts().await.unwrap().pending
}

on_both_backends! {
    async fn a_release_is_shared_once_and_marked_done_once(store: Store) {
        let wave = open_team_wave(&store, "U0BOSS1", 4).await;
        store.set_opted_out("U0BOSS1S4", true, now()).await.unwrap();
        let before = team_notes(&store).await;
        let new = NewCommitment {
            manager_id: "U0BOSS1".into(),
            window_id: wave.wave.window_id.clone(),
            heard: "heard".into(),
            will_do: "will do".into(),
            due_on: "2026-12-14".into(),
        };
        let Shared::Now { commitment, notes } = store.share_commitment(&new, now()).await.unwrap() else {
            panic!("the first share is shared");
        };
        assert_eq!(notes, 3, "each current seller who can be asked");
        assert_eq!(team_notes(&store).await, before + 3);

        let again = NewCommitment { will_do: "something else".into(), ..new };
        match store.share_commitment(&again, now()).await.unwrap() {
            Shared::Already(sent) => assert_eq!(sent, commitment),
            other => panic!("a second share must be refused: {other:?}"),
        }
        assert_eq!(team_notes(&store).await, before + 3);
        assert_eq!(store.latest_commitment("U0BOSS1").await.unwrap(), Some(commitment.clone()));

        assert_eq!(store.mark_commitment_done("U0BOSS2", &commitment.commitment_id, now()).await.unwrap(), None, "only its manager");
        assert_eq!(store.mark_commitment_done("U0BOSS1", &commitment.commitment_id, now()).await.unwrap(), Some(3));
        assert_eq!(store.mark_commitment_done("U0BOSS1", &commitment.commitment_id, now()).await.unwrap(), None, "once");
        assert_eq!(team_notes(&store).await, before + 6);
        assert!(store.commitment(&commitment.commitment_id).await.unwrap().unwrap().done);
    }
}
