//! The fake Slack Web API: an axum server on loopback with a workspace of users.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::methods::METHODS;
use super::socket::SocketServer;

pub const TEAM_ID: &str = "T0TEAM";
pub const APP_ID: &str = "A0TRUSTPULSE";
pub const BOT_USER_ID: &str = "U0TRUSTBOT";
pub const BOT_TOKEN: &str = "xoxb-fake-bot-token";
pub const APP_TOKEN: &str = "xapp-fake-app-token";

/// A person in the fake workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub tz: String,
    pub is_bot: bool,
    pub deleted: bool,
}

impl FakeUser {
    pub fn new(id: &str, tz: &str) -> FakeUser {
        let name = id.to_ascii_lowercase();
        FakeUser {
            id: id.to_owned(),
            email: format!("{name}@example.com"),
            name,
            tz: tz.to_owned(),
            is_bot: false,
            deleted: false,
        }
    }

    /// The user object as Slack's `users.info` returns it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "team_id": TEAM_ID, "name": self.name, "deleted": self.deleted,
            "real_name": self.name, "tz": self.tz, "tz_label": self.tz, "tz_offset": 0,
            "is_bot": self.is_bot, "is_app_user": false, "is_admin": false, "is_owner": false,
            "updated": 1_700_000_000,
            "profile": {"real_name": self.name, "display_name": self.name, "email": self.email, "team": TEAM_ID}
        })
    }
}

/// One recorded Web API call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub args: Value,
    /// The HTTP status the fake answered with.
    pub status: u16,
    /// Slack's `error` code when the call failed.
    pub error: Option<String>,
}

/// A message as the fake keeps it (after `chat.update`, its latest version).
#[derive(Debug, Clone)]
pub struct PostedMessage {
    pub channel: String,
    pub ts: String,
    pub text: String,
    pub blocks: Value,
    pub updated: bool,
}

/// A file uploaded through Slack's external upload, as the fake keeps it.
#[derive(Debug, Clone, Default)]
pub struct FakeFile {
    pub id: String,
    pub filename: String,
    /// The length announced by `files.getUploadURLExternal`.
    pub length: usize,
    pub alt_text: String,
    /// The bytes sent to the upload URL (None until they arrive).
    pub bytes: Option<Vec<u8>>,
    /// Set by `files.completeUploadExternal`.
    pub title: Option<String>,
    /// Where it was shared (no channel: the file is private to the uploader).
    pub channels: Vec<String>,
    pub completed: bool,
}

/// A scripted failure for the next call of a method.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 500.
    ServerError,
    /// HTTP 200 `{"ok": false, "error": code}`.
    Error(String),
    /// Answer only after this long.
    Hang(Duration),
}

#[derive(Default)]
struct Workspace {
    users: BTreeMap<String, FakeUser>,
    calls: Vec<Call>,
    messages: Vec<PostedMessage>,
    /// Last view opened with `views.open`, by the user whose trigger it was.
    modals: HashMap<String, Value>,
    homes: HashMap<String, Value>,
    files: BTreeMap<String, FakeFile>,
    triggers: HashMap<String, String>,
    /// (method or "*", calls of it to let through first, fault)
    faults: VecDeque<(String, usize, Fault)>,
    revoked: bool,
    /// The Socket Mode URL `apps.connections.open` hands out, when not the fake's own.
    socket_url: Option<String>,
    /// When set, `chat.postMessage` answers 429 beyond this many posts per minute in the
    /// workspace or more than one per second to a channel, as Slack does.
    post_limit: Option<u32>,
    recent_posts: VecDeque<std::time::Instant>,
    last_post_to: HashMap<String, std::time::Instant>,
    /// Arrival time of each successful post, for latency measurements.
    post_times: Vec<std::time::Instant>,
    posted_channels: std::collections::HashSet<String>,
    /// Load runs: keep each call's method, status and time, not its arguments or messages.
    lean: bool,
    /// When set, `chat.postMessage` refuses a user id as its channel (`channel_not_found`), as
    /// a workspace might; a bot must then open the DM with `conversations.open`.
    refuse_user_ids: bool,
    next_ts: u64,
    next_id: u64,
}

/// A running fake Slack. Cheap to clone.
#[derive(Clone)]
pub struct FakeSlack {
    addr: SocketAddr,
    state: Arc<Mutex<Workspace>>,
    socket: SocketServer,
    /// How many distinct channels have received a message, for [`FakeSlack::wait_for_recipients`].
    recipients: Arc<watch::Sender<usize>>,
}

impl FakeSlack {
    pub async fn start(users: Vec<FakeUser>) -> anyhow::Result<FakeSlack> {
        let socket = SocketServer::start().await?;
        let workspace = Workspace {
            users: users.into_iter().map(|u| (u.id.clone(), u)).collect(),
            next_ts: 1_700_000_000_000_100,
            ..Workspace::default()
        };
        let state = Arc::new(Mutex::new(workspace));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let fake = FakeSlack {
            addr,
            state,
            socket,
            recipients: Arc::new(watch::channel(0).0),
        };
        let app = Router::new()
            .route("/api/{method}", any(api))
            .route("/upload/{file_id}", any(upload))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(fake)
    }

    /// The Web API base URL to give trustpulse (`SLACK_API_URL`).
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    pub fn socket(&self) -> &SocketServer {
        &self.socket
    }

    fn with<T>(&self, f: impl FnOnce(&mut Workspace) -> T) -> T {
        f(&mut self.state.lock().expect("fake slack lock"))
    }

    pub fn add_user(&self, user: FakeUser) {
        self.with(|w| w.users.insert(user.id.clone(), user));
    }

    pub fn user(&self, id: &str) -> Option<FakeUser> {
        self.with(|w| w.users.get(id).cloned())
    }

    /// Makes the next call of `method` ("*" for any) fail with `fault`.
    pub fn fail_next(&self, method: &str, fault: Fault) {
        self.fail_call(method, 1, fault);
    }

    /// Makes the `n`-th call of `method` from now (1 = the next) fail with `fault`.
    pub fn fail_call(&self, method: &str, n: usize, fault: Fault) {
        self.with(|w| {
            w.faults
                .push_back((method.to_owned(), n.saturating_sub(1), fault))
        });
    }

    /// Enforces Slack-like limits on `chat.postMessage` (see [`Workspace`]).
    pub fn enforce_post_limit(&self, posts_per_minute: u32) {
        self.with(|w| w.post_limit = Some(posts_per_minute));
    }

    /// From now on `chat.postMessage` refuses user ids as channels.
    pub fn refuse_posts_to_user_ids(&self) {
        self.with(|w| w.refuse_user_ids = true);
    }

    /// Stops keeping call arguments and posted messages, so that a load run of 100,000 posts
    /// measures trustpulse rather than the fake's memory. Calls keep method, status and error.
    pub fn keep_no_bodies(&self) {
        self.with(|w| w.lean = true);
    }

    /// When each successful post arrived.
    pub fn post_times(&self) -> Vec<std::time::Instant> {
        self.with(|w| w.post_times.clone())
    }

    /// How many posts have succeeded so far.
    pub fn post_count(&self) -> usize {
        self.with(|w| w.post_times.len())
    }

    /// Waits until at least `n` distinct channels have received a message (e.g. to interrupt a
    /// fan-out midway, or to see it complete).
    pub async fn wait_for_recipients(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        let mut seen = self.recipients.subscribe();
        match tokio::time::timeout(timeout, seen.wait_for(|count| *count >= n)).await {
            Ok(Ok(_)) => Ok(()),
            _ => anyhow::bail!(
                "only {} of {n} recipients were reached in time",
                *self.recipients.borrow()
            ),
        }
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.with(|w| w.calls.clone())
    }

    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// The messages the bot posted in its DM with `user`, oldest first.
    pub fn dm_messages(&self, user: &str) -> Vec<PostedMessage> {
        let channel = dm_channel(user);
        self.with(|w| {
            w.messages
                .iter()
                .filter(|m| m.channel == channel)
                .cloned()
                .collect()
        })
    }

    pub fn all_messages(&self) -> Vec<PostedMessage> {
        self.with(|w| w.messages.clone())
    }

    /// Every file uploaded so far, by id.
    pub fn files(&self) -> Vec<FakeFile> {
        self.with(|w| w.files.values().cloned().collect())
    }

    /// The modal most recently opened for `user`.
    pub fn open_modal(&self, user: &str) -> Option<Value> {
        self.with(|w| w.modals.get(user).cloned())
    }

    /// The Home tab last published for `user`.
    pub fn home(&self, user: &str) -> Option<Value> {
        self.with(|w| w.homes.get(user).cloned())
    }

    /// A fresh `trigger_id` for an interaction by `user`; `views.open` with it opens a modal
    /// for that user.
    pub fn new_trigger(&self, user: &str) -> String {
        self.with(|w| {
            w.next_id += 1;
            let trigger = format!("{}.{}.fake{:06}", w.next_id, TEAM_ID, w.next_id);
            w.triggers.insert(trigger.clone(), user.to_owned());
            trigger
        })
    }
}

/// The DM channel id the fake uses for a user.
pub fn dm_channel(user: &str) -> String {
    format!("D{}", user.trim_start_matches(['U', 'W']))
}

fn slack_error(code: &str) -> Value {
    json!({"ok": false, "error": code})
}

async fn api(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(spec) = METHODS.get(method.as_str()) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(slack_error("unknown_method")),
        )
            .into_response();
    };
    let mut args = Map::new();
    if let Some(q) = query {
        args.extend(form_args(q.as_bytes()));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => args.extend(map),
            _ => {
                return fake.answer(
                    &method,
                    Value::Object(args),
                    200,
                    slack_error("invalid_json"),
                );
            }
        }
    } else if !body.is_empty() {
        args.extend(form_args(&body));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| args.get("token").and_then(Value::as_str).map(str::to_owned));
    let args = Value::Object(args);

    let expected = if method == "apps.connections.open" {
        APP_TOKEN
    } else {
        BOT_TOKEN
    };
    match token.as_deref() {
        None | Some("") => return fake.answer(&method, args, 200, slack_error("not_authed")),
        Some(_) if fake.with(|w| w.revoked) => {
            return fake.answer(&method, args, 200, slack_error("token_revoked"));
        }
        Some(t) if t != expected => {
            return fake.answer(&method, args, 200, slack_error("invalid_auth"));
        }
        Some(_) => {}
    }
    for required in spec.required.iter().filter(|r| *r != "token") {
        if args.get(required).is_none_or(|v| v.is_null() || v == "") {
            let mut error = slack_error("invalid_arguments");
            error["response_metadata"] =
                json!({"messages": [format!("[ERROR] missing required field: {required}")]});
            return fake.answer(&method, args, 200, error);
        }
    }
    let fault = fake.with(|w| {
        let index = w
            .faults
            .iter()
            .position(|(m, _, _)| *m == method || m == "*")?;
        if w.faults[index].1 > 0 {
            w.faults[index].1 -= 1;
            return None;
        }
        w.faults.remove(index).map(|(_, _, fault)| fault)
    });
    match fault {
        Some(Fault::RateLimited { retry_after_secs }) => {
            fake.record(&method, args, 429, Some("ratelimited"));
            return rate_limited(retry_after_secs);
        }
        Some(Fault::ServerError) => {
            fake.record(&method, args, 500, Some("internal_error"));
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
        Some(Fault::Error(code)) => return fake.answer(&method, args, 200, slack_error(&code)),
        Some(Fault::Hang(duration)) => tokio::time::sleep(duration).await,
        None => {}
    }
    let result = fake.perform(&method, &args);
    if let Some(retry_after) = result["retry_after"].as_u64() {
        fake.record(&method, args, 429, Some("ratelimited"));
        return rate_limited(retry_after);
    }
    fake.answer(&method, args, 200, result)
}

/// The upload URL `files.getUploadURLExternal` hands out: the bytes of one file, sent with
/// the bot token (as slack-morphism does), answered as Slack does, in plain text.
async fn upload(
    State(fake): State<FakeSlack>,
    Path(file_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {BOT_TOKEN}"));
    let stored = fake.with(|w| match w.files.get_mut(&file_id) {
        Some(file) if authorized && !file.completed && file.length == body.len() => {
            file.bytes = Some(body.to_vec());
            true
        }
        _ => false,
    });
    let (status, text) = match stored {
        true => (StatusCode::OK, format!("OK - {}", body.len())),
        false => (StatusCode::BAD_REQUEST, "upload refused".to_owned()),
    };
    (status, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

/// Slack's 429: `Retry-After` in seconds and `{"ok": false, "error": "ratelimited"}`.
fn rate_limited(retry_after_secs: u64) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(slack_error("ratelimited")),
    )
        .into_response();
    response.headers_mut().insert(
        "retry-after",
        retry_after_secs.to_string().parse().expect("digits"),
    );
    response
}

fn form_args(bytes: &[u8]) -> Map<String, Value> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

impl FakeSlack {
    fn record(&self, method: &str, args: Value, status: u16, error: Option<&str>) {
        let call = Call {
            method: method.to_owned(),
            args,
            status,
            error: error.map(str::to_owned),
        };
        self.with(|w| {
            let args = if w.lean { Value::Null } else { call.args };
            w.calls.push(Call { args, ..call });
        });
    }

    fn answer(&self, method: &str, args: Value, status: u16, body: Value) -> Response {
        let error = body["error"].as_str().map(str::to_owned);
        let new_recipient = method == "chat.postMessage"
            && error.is_none()
            && self.with(|w| {
                w.posted_channels
                    .insert(body["channel"].as_str().unwrap_or_default().to_owned())
            });
        self.record(method, args, status, error.as_deref());
        // Only once the call is on record, so a waiting test sees it.
        if new_recipient {
            self.recipients.send_modify(|n| *n += 1);
        }
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            axum::Json(body),
        )
            .into_response()
    }

    /// The effect and documented response of a successful call.
    fn perform(&self, method: &str, args: &Value) -> Value {
        let arg = |name: &str| args[name].as_str().unwrap_or("").to_owned();
        self.with(|w| match method {
            "auth.test" => json!({
                "ok": true, "url": "https://fake.slack.test/", "team": "Fake Sales Org", "user": "trustpulse",
                "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "B0TRUSTBOT"
            }),
            "conversations.open" => {
                // slack-morphism sends `users` as a JSON array; Slack documents a comma list.
                let users = match &args["users"] {
                    Value::Array(list) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                    Value::String(list) => list.split(',').map(str::to_owned).collect(),
                    _ => Vec::new(),
                };
                let [user] = users.as_slice() else { return slack_error("not_enough_users") };
                match w.users.get(user) {
                    None => slack_error("user_not_found"),
                    Some(u) if u.deleted => slack_error("user_disabled"),
                    Some(u) if u.is_bot => slack_error("cannot_dm_bot"),
                    Some(_) => json!({"ok": true, "channel": {"id": dm_channel(user)}}),
                }
            }
            "chat.postMessage" => {
                let mut channel = arg("channel");
                // A user id posts into the bot's DM with that person, and the answer names
                // the DM channel.
                if channel.starts_with(['U', 'W']) {
                    // Every refusal is the documented `channel_not_found`; `conversations.open`
                    // then says why (`user_disabled`, `cannot_dm_bot`, …).
                    match w.users.get(&channel) {
                        Some(u) if !w.refuse_user_ids && !u.deleted && !u.is_bot => {
                            channel = dm_channel(&channel)
                        }
                        _ => return slack_error("channel_not_found"),
                    }
                }
                if !channel.starts_with('D') && !channel.starts_with('C') {
                    return slack_error("channel_not_found");
                }
                if let Some(limit) = w.post_limit {
                    let now = std::time::Instant::now();
                    while w.recent_posts.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
                        w.recent_posts.pop_front();
                    }
                    let channel_busy = w.last_post_to.get(&channel).is_some_and(|t| now.duration_since(*t) < Duration::from_secs(1));
                    if w.recent_posts.len() >= limit as usize || channel_busy {
                        return json!({"ok": false, "error": "ratelimited", "retry_after": 1});
                    }
                    w.recent_posts.push_back(now);
                    w.last_post_to.insert(channel.clone(), now);
                }
                w.post_times.push(std::time::Instant::now());
                w.next_ts += 1;
                let ts = format!("{}.{:06}", w.next_ts / 1_000_000, w.next_ts % 1_000_000);
                let text = arg("text");
                if !w.lean {
                    w.messages.push(PostedMessage {
                        channel: channel.clone(),
                        ts: ts.clone(),
                        text: text.clone(),
                        blocks: args["blocks"].clone(),
                        updated: false,
                    });
                }
                json!({"ok": true, "channel": channel, "ts": ts,
                       "message": {"type": "message", "text": text, "ts": ts, "user": BOT_USER_ID, "bot_id": "B0TRUSTBOT"}})
            }
            "chat.update" => {
                let (channel, ts) = (arg("channel"), arg("ts"));
                match w.messages.iter_mut().find(|m| m.channel == channel && m.ts == ts) {
                    None => slack_error("message_not_found"),
                    Some(m) => {
                        m.text = arg("text");
                        m.blocks = args["blocks"].clone();
                        m.updated = true;
                        json!({"ok": true, "channel": channel, "ts": ts, "text": m.text,
                               "message": {"text": m.text, "user": BOT_USER_ID}})
                    }
                }
            }
            "chat.postEphemeral" => {
                w.next_ts += 1;
                json!({"ok": true, "message_ts": format!("{}.{:06}", w.next_ts / 1_000_000, w.next_ts % 1_000_000)})
            }
            "views.open" => {
                let trigger = arg("trigger_id");
                let Some(user) = w.triggers.remove(&trigger) else { return slack_error("invalid_trigger_id") };
                w.next_id += 1;
                let view = stateful_view(&args["view"], w.next_id);
                w.modals.insert(user, view.clone());
                json!({"ok": true, "view": view})
            }
            "views.update" | "views.push" => {
                w.next_id += 1;
                json!({"ok": true, "view": stateful_view(&args["view"], w.next_id)})
            }
            "views.publish" => {
                w.next_id += 1;
                let view = stateful_view(&args["view"], w.next_id);
                w.homes.insert(arg("user_id"), view.clone());
                json!({"ok": true, "view": view})
            }
            "users.info" => match w.users.get(&arg("user")) {
                Some(u) => json!({"ok": true, "user": u.to_json()}),
                None => slack_error("user_not_found"),
            },
            "users.list" => {
                // Pages of `limit` (at most 1,000, as Slack caps it), linked by an opaque cursor.
                let number = |name: &str| match &args[name] {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                };
                let limit = number("limit").filter(|n| *n > 0).unwrap_or(1000).min(1000) as usize;
                let from: usize = arg("cursor").strip_prefix("next:").and_then(|n| n.parse().ok()).unwrap_or(0);
                let members: Vec<Value> = w.users.values().skip(from).take(limit).map(FakeUser::to_json).collect();
                let next = if from + limit < w.users.len() { format!("next:{}", from + limit) } else { String::new() };
                json!({"ok": true, "members": members, "cache_ts": 1_700_000_000, "response_metadata": {"next_cursor": next}})
            }
            "users.lookupByEmail" => {
                let email = arg("email").to_ascii_lowercase();
                match w.users.values().find(|u| u.email == email && !u.deleted) {
                    Some(u) => json!({"ok": true, "user": u.to_json()}),
                    None => slack_error("users_not_found"),
                }
            }
            "usergroups.users.list" => json!({"ok": true, "users": w.users.keys().collect::<Vec<_>>()}),
            "files.getUploadURLExternal" => {
                let length: usize = match &args["length"] {
                    Value::Number(n) => n.as_u64().unwrap_or(0) as usize,
                    Value::String(s) => s.parse().unwrap_or(0),
                    _ => 0,
                };
                if length == 0 {
                    return slack_error("invalid_arguments");
                }
                w.next_id += 1;
                let id = format!("F0FAKE{:06}", w.next_id);
                w.files.insert(id.clone(), FakeFile {
                    id: id.clone(),
                    filename: arg("filename"),
                    length,
                    alt_text: arg("alt_txt"),
                    ..FakeFile::default()
                });
                json!({"ok": true, "upload_url": format!("http://{}/upload/{id}", self.addr), "file_id": id})
            }
            "files.completeUploadExternal" => {
                // slack-morphism sends `files` as a JSON array; a form post carries it as text.
                let files = match &args["files"] {
                    Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
                    other => other.clone(),
                };
                let Some(files) = files.as_array().filter(|f| !f.is_empty()) else {
                    return slack_error("invalid_arguments");
                };
                let channel = arg("channel_id");
                if !channel.is_empty() && !channel.starts_with(['D', 'C']) {
                    return slack_error("invalid_channel");
                }
                let mut done = Vec::new();
                for entry in files {
                    let id = entry["id"].as_str().unwrap_or_default();
                    match w.files.get_mut(id) {
                        Some(file) if file.bytes.is_some() && !file.completed => {
                            file.completed = true;
                            file.title = entry["title"].as_str().map(str::to_owned);
                            if !channel.is_empty() {
                                file.channels.push(channel.clone());
                            }
                            done.push(json!({"id": id, "title": file.title, "created": 1_700_000_000, "user": BOT_USER_ID}));
                        }
                        _ => return slack_error("file_not_found"),
                    }
                }
                json!({"ok": true, "files": done})
            }
            "apps.connections.open" => {
                let url = w.socket_url.clone().unwrap_or_else(|| self.socket.url());
                json!({"ok": true, "url": url})
            }
            _ => METHODS[method].example.clone(),
        })
    }

    /// Hands out this Socket Mode URL instead of the fake's own (a test's TLS listener).
    pub fn set_socket_url(&self, url: &str) {
        self.with(|w| w.socket_url = Some(url.to_owned()));
    }

    /// Slack revokes every token (after `app_uninstalled` / `tokens_revoked`).
    pub fn revoke_tokens(&self) {
        self.with(|w| w.revoked = true);
    }
}

/// A view as Slack returns it: the request's view plus id, team, state and hash.
pub fn stateful_view(view: &Value, id: u64) -> Value {
    let mut view = match view {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        other => other.clone(),
    };
    if let Value::Object(map) = &mut view {
        map.insert("id".into(), json!(format!("V{id:08}")));
        map.insert("team_id".into(), json!(TEAM_ID));
        map.insert("app_id".into(), json!(APP_ID));
        map.insert("bot_id".into(), json!("B0TRUSTBOT"));
        map.insert("hash".into(), json!(format!("{id}.fakehash")));
        map.insert("root_view_id".into(), json!(format!("V{id:08}")));
        map.insert("state".into(), json!({"values": {}}));
    }
    view
}
