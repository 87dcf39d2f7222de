//! Sends what Slack would send to trustpulse's HTTP endpoints, signed with the signing secret
//! at the given clock's time, or to its Socket Mode connection.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::ops::Clock;
use crate::slack::verify::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

/// What came back: the HTTP status (200 for a Socket Mode ack) and the body as JSON (or as a
/// JSON string when it was not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// How Slack reaches trustpulse in a test.
#[derive(Clone)]
pub enum Transport {
    Http {
        base_url: String,
        secret: String,
        clock: Clock,
    },
    SocketMode(super::socket::SocketServer),
}

impl Transport {
    pub async fn event(&self, envelope: Value) -> anyhow::Result<Reply> {
        match self {
            Transport::Http { .. } => {
                self.post(
                    "/slack/events",
                    "application/json",
                    envelope.to_string().into_bytes(),
                )
                .await
            }
            Transport::SocketMode(socket) => ack(socket.deliver("events_api", envelope).await?),
        }
    }

    pub async fn interaction(&self, payload: Value) -> anyhow::Result<Reply> {
        match self {
            Transport::Http { .. } => {
                let form = serde_urlencoded::to_string([("payload", payload.to_string())])?;
                self.post("/slack/interactions", FORM, form.into_bytes())
                    .await
            }
            Transport::SocketMode(socket) => ack(socket.deliver("interactive", payload).await?),
        }
    }

    pub async fn command(&self, fields: Vec<(String, String)>) -> anyhow::Result<Reply> {
        match self {
            Transport::Http { .. } => {
                let form = serde_urlencoded::to_string(&fields)?;
                self.post("/slack/commands", FORM, form.into_bytes()).await
            }
            Transport::SocketMode(socket) => {
                let payload: serde_json::Map<String, Value> = fields
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                ack(socket
                    .deliver("slash_commands", Value::Object(payload))
                    .await?)
            }
        }
    }

    /// A request signed at the clock's current time.
    async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> anyhow::Result<Reply> {
        let Transport::Http {
            base_url,
            secret,
            clock,
        } = self
        else {
            anyhow::bail!("not an HTTP transport");
        };
        let ts = clock.now().as_second();
        let signature = sign(secret, ts, &body);
        let headers = [
            ("content-type", content_type.to_owned()),
            (TIMESTAMP_HEADER, ts.to_string()),
            (SIGNATURE_HEADER, signature),
        ];
        send(&format!("{base_url}{path}"), &headers, body).await
    }
}

pub const FORM: &str = "application/x-www-form-urlencoded";

fn ack(payload: Value) -> anyhow::Result<Reply> {
    Ok(Reply {
        status: 200,
        body: payload,
    })
}

/// A raw POST with exactly these headers, for tests of the verifier at the HTTP level.
pub async fn send(url: &str, headers: &[(&str, String)], body: Vec<u8>) -> anyhow::Result<Reply> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut request = Request::post(url);
    for (name, value) in headers {
        request = request.header(*name, value.as_bytes());
    }
    let response = client
        .request(request.body(Full::new(Bytes::from(body)))?)
        .await?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(Reply { status, body })
}
