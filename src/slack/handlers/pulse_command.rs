//! The `/pulse` slash command.

use slack_morphism::prelude::*;

use super::SlackApp;

/// Answers a `/pulse` command. Every reply is ephemeral.
pub async fn on_command(
    state: &SlackApp,
    command: &SlackCommandEvent,
) -> anyhow::Result<SlackCommandEventResponse> {
    let text = crate::slack::commands::reply(
        state,
        command.user_id.as_ref(),
        command.text.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(
        SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text))
            .with_response_type(SlackMessageResponseType::Ephemeral),
    )
}
