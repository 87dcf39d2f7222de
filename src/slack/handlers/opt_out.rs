//! A seller opting out of (or back into) the pulses, from App Home.

use super::{SlackApp, refresh_home};

pub(super) async fn set(state: &SlackApp, user: &str, opted_out: bool) -> anyhow::Result<()> {
    state
        .store
        .set_opted_out(user, opted_out, state.now())
        .await?;
    refresh_home(state, user).await
}
