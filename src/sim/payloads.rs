//! Slack's side of the conversation: the payloads Slack sends when someone clicks, submits,
//! types a command or an event happens. Shapes follow Slack's documentation (and the Bolt test
//! suites' captured payloads).

use crate::survey::Question;
use serde_json::{Value, json};

use super::fake_slack::{APP_ID, FakeSlack, PostedMessage, TEAM_ID};

fn team() -> Value {
    json!({"id": TEAM_ID, "domain": "fakesales"})
}

fn user(id: &str) -> Value {
    json!({"id": id, "username": id.to_ascii_lowercase(), "name": id.to_ascii_lowercase(), "team_id": TEAM_ID})
}

/// An Events API envelope (`event_callback`).
pub fn event_callback(event_id: &str, event: Value) -> Value {
    json!({
        "token": "legacy-verification-token", "team_id": TEAM_ID, "api_app_id": APP_ID,
        "event": event, "type": "event_callback", "event_id": event_id, "event_time": 1_700_000_000,
        "authorizations": [{"team_id": TEAM_ID, "user_id": "U0TRUSTBOT", "is_bot": true}]
    })
}

pub fn app_home_opened(user_id: &str) -> Value {
    json!({"type": "app_home_opened", "user": user_id, "channel": "D0HOME", "tab": "home", "event_ts": "1700000000.000100"})
}

/// The app's DM opened (Slack sends `app_home_opened` for its Messages tab too).
pub fn app_messages_opened(user_id: &str) -> Value {
    let channel = user_id.replacen("U0", "D0", 1);
    json!({"type": "app_home_opened", "user": user_id, "channel": channel, "tab": "messages", "event_ts": "1700000000.000150"})
}

pub fn app_uninstalled() -> Value {
    json!({"type": "app_uninstalled", "event_ts": "1700000000.000200"})
}

pub fn tokens_revoked() -> Value {
    json!({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["U0TRUSTBOT"]}, "event_ts": "1700000000.000300"})
}

pub fn user_change(fake: &FakeSlack, user_id: &str) -> Value {
    let user = fake.user(user_id).expect("a known user").to_json();
    json!({"type": "user_change", "user": user, "event_ts": "1700000000.000400", "cache_ts": 1_700_000_000})
}

pub fn team_join(fake: &FakeSlack, user_id: &str) -> Value {
    let user = fake.user(user_id).expect("a known user").to_json();
    json!({"type": "team_join", "user": user, "event_ts": "1700000000.000500"})
}

/// A click on a button of a message the bot posted.
pub fn button_click(
    fake: &FakeSlack,
    user_id: &str,
    message: &PostedMessage,
    action_id: &str,
) -> Value {
    let button = find_button(&message.blocks, action_id).unwrap_or_else(|| json!({"value": ""}));
    json!({
        "type": "block_actions", "team": team(), "user": user(user_id), "api_app_id": APP_ID,
        "token": "legacy-verification-token", "trigger_id": fake.new_trigger(user_id),
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": false},
        "channel": {"id": message.channel, "name": "directmessage"},
        "response_url": "https://hooks.slack.test/actions/T0TEAM/1/fake",
        "actions": [{
            "type": "button", "action_id": action_id, "block_id": button["block_id"].as_str().unwrap_or("b1"),
            "value": button["value"], "text": {"type": "plain_text", "text": "Answer"},
            "action_ts": "1700000000.000600"
        }]
    })
}

/// A click on a button of a Home tab or modal view (`value` chosen by the caller).
pub fn view_button_click(fake: &FakeSlack, user_id: &str, action_id: &str, value: &str) -> Value {
    json!({
        "type": "block_actions", "team": team(), "user": user(user_id), "api_app_id": APP_ID,
        "token": "legacy-verification-token", "trigger_id": fake.new_trigger(user_id),
        "container": {"type": "view", "view_id": "V0HOME"},
        "actions": [{
            "type": "button", "action_id": action_id, "block_id": "b1", "value": value,
            "text": {"type": "plain_text", "text": "Button"}, "action_ts": "1700000000.000700"
        }]
    })
}

fn find_button(blocks: &Value, action_id: &str) -> Option<Value> {
    let blocks = match blocks {
        Value::String(text) => serde_json::from_str(text).ok()?,
        other => other.clone(),
    };
    blocks.as_array()?.iter().find_map(|block| {
        block["elements"]
            .as_array()?
            .iter()
            .find(|e| e["action_id"] == action_id)
            .map(|e| {
                let mut e = e.clone();
                e["block_id"] = block["block_id"].clone();
                e
            })
    })
}

/// The submission of a modal, with `values` as Slack puts them in `view.state.values`.
pub fn view_submission(user_id: &str, view: &Value, values: Value) -> Value {
    let mut view = view.clone();
    view["state"] = json!({"values": values});
    json!({
        "type": "view_submission", "team": team(), "user": user(user_id), "api_app_id": APP_ID,
        "token": "legacy-verification-token", "trigger_id": "1.T0TEAM.submit", "view": view
    })
}

/// The submission of the survey modal for `wave_id`, as Slack sends it once `user_id` has filled
/// it in: the view trustpulse opens (as the fake Slack stores it) with `values` as its state.
/// For load runs and crash tests, which answer without clicking through the DM first.
pub fn survey_submission(user_id: &str, wave_id: &str, view_number: u64, values: Value) -> Value {
    let modal = crate::slack::blocks::survey_modal(&json!({ "wave": wave_id }).to_string(), 5);
    let modal = serde_json::to_value(modal).expect("a view serialises");
    view_submission(
        user_id,
        &super::fake_slack::stateful_view(&modal, view_number),
        values,
    )
}

/// Adds the follow-through item's chosen option (`"1"` yes … `"4"` not sure) to survey values.
pub fn with_follow_through(values: &mut Value, choice: &str) {
    use crate::slack::blocks::ids;
    values[ids::FOLLOW_THROUGH] = json!({ids::CHOICE: {
        "type": "radio_buttons",
        "selected_option": {"text": {"type": "plain_text", "text": "Choice"}, "value": choice}
    }});
}

/// `state.values` of the "Share with your team" modal.
pub fn share_values(heard: &str, will_do: &str, due: Option<&str>) -> Value {
    use crate::slack::team_loop::ids;
    json!({
        ids::HEARD: {ids::TEXT: {"type": "plain_text_input", "value": heard}},
        ids::WILL_DO: {ids::TEXT: {"type": "plain_text_input", "value": will_do}},
        ids::DUE: {ids::DATE: {"type": "datepicker", "selected_date": due}},
    })
}

/// `state.values` of the survey modal: the chosen option value of each question, in
/// `Question::ALL` order (as strings, so tests can forge "6" or "4.5"), and an optional comment.
pub fn survey_values(scores: [&str; Question::COUNT], comment: Option<&str>) -> Value {
    let choice = |value: &str| {
        json!({"score": {"type": "radio_buttons", "selected_option": {
            "text": {"type": "plain_text", "text": "Choice"}, "value": value
        }}})
    };
    let mut values = serde_json::Map::new();
    for (question, value) in Question::ALL.iter().zip(scores) {
        values.insert(question.key().to_owned(), choice(value));
    }
    values.insert(
        "comment".to_owned(),
        json!({"text": {"type": "plain_text_input", "value": comment}}),
    );
    Value::Object(values)
}

/// `state.values` of a modal made of plain text inputs with action id `value`.
pub fn text_values(fields: &[(&str, &str)]) -> Value {
    let map: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(block, text)| {
            (
                (*block).to_owned(),
                json!({"value": {"type": "plain_text_input", "value": text}}),
            )
        })
        .collect();
    Value::Object(map)
}

/// A slash command as the form fields Slack posts.
pub fn slash_command(
    fake: &FakeSlack,
    user_id: &str,
    command: &str,
    text: &str,
) -> Vec<(String, String)> {
    [
        ("token", "legacy-verification-token".to_owned()),
        ("team_id", TEAM_ID.to_owned()),
        ("team_domain", "fakesales".to_owned()),
        ("channel_id", "C0GENERAL".to_owned()),
        ("channel_name", "general".to_owned()),
        ("user_id", user_id.to_owned()),
        ("user_name", user_id.to_ascii_lowercase()),
        ("command", command.to_owned()),
        ("text", text.to_owned()),
        ("api_app_id", APP_ID.to_owned()),
        (
            "response_url",
            "https://hooks.slack.test/commands/T0TEAM/1/fake".to_owned(),
        ),
        ("trigger_id", fake.new_trigger(user_id)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
