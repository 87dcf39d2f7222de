//! The fake's Socket Mode server: hands out `ws://` URLs, says hello, delivers envelopes and
//! waits for trustpulse's acknowledgements. It keeps each socket open, as Slack does (a server
//! that closed after every ack would make the client reconnect in a tight loop).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

use super::fake_slack::APP_ID;

#[derive(Default)]
struct Sockets {
    connections: Vec<mpsc::UnboundedSender<String>>,
    waiting: HashMap<String, oneshot::Sender<Value>>,
    next_envelope: u64,
}

#[derive(Clone)]
pub struct SocketServer {
    addr: SocketAddr,
    sockets: Arc<Mutex<Sockets>>,
    /// How many sockets were ever opened; watched by [`SocketServer::wait_connected`].
    opened: Arc<watch::Sender<usize>>,
}

impl SocketServer {
    pub async fn start() -> anyhow::Result<SocketServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let server = SocketServer {
            addr: listener.local_addr()?,
            sockets: Arc::default(),
            opened: Arc::new(watch::channel(0).0),
        };
        let accepting = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = accepting.clone();
                tokio::spawn(async move { server.serve(stream).await });
            }
        });
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("ws://{}/link", self.addr)
    }

    async fn serve(&self, stream: tokio::net::TcpStream) {
        let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let hello = json!({
            "type": "hello", "num_connections": 1,
            "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID}
        });
        let _ = tx.send(hello.to_string());
        self.sockets
            .lock()
            .expect("sockets lock")
            .connections
            .push(tx);
        self.opened.send_modify(|n| *n += 1);
        let writer = tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        while let Some(Ok(frame)) = stream.next().await {
            let Message::Text(text) = frame else { continue };
            let Ok(ack) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let Some(id) = ack["envelope_id"].as_str() else {
                continue;
            };
            let waiter = self
                .sockets
                .lock()
                .expect("sockets lock")
                .waiting
                .remove(id);
            if let Some(waiter) = waiter {
                let _ = waiter.send(ack.get("payload").cloned().unwrap_or(Value::Null));
            }
        }
        writer.abort();
    }

    /// Delivers one envelope (`events_api`, `interactive` or `slash_commands`) and returns the
    /// payload of trustpulse's acknowledgement.
    pub async fn deliver(&self, kind: &str, payload: Value) -> anyhow::Result<Value> {
        let (envelope_id, receiver) = {
            let mut sockets = self.sockets.lock().expect("sockets lock");
            sockets.connections.retain(|c| !c.is_closed());
            let Some(connection) = sockets.connections.last().cloned() else {
                anyhow::bail!("trustpulse has no Socket Mode connection open");
            };
            sockets.next_envelope += 1;
            let envelope_id = format!("env-{:06}", sockets.next_envelope);
            let (tx, rx) = oneshot::channel();
            sockets.waiting.insert(envelope_id.clone(), tx);
            let envelope = json!({
                "envelope_id": envelope_id, "type": kind, "payload": payload,
                "accepts_response_payload": kind != "events_api", "retry_attempt": 0, "retry_reason": ""
            });
            connection
                .send(envelope.to_string())
                .map_err(|_| anyhow::anyhow!("the Socket Mode connection closed"))?;
            (envelope_id, rx)
        };
        match tokio::time::timeout(Duration::from_secs(10), receiver).await {
            Ok(Ok(payload)) => Ok(payload),
            _ => anyhow::bail!("no acknowledgement for {envelope_id}"),
        }
    }

    /// Waits until trustpulse has opened a socket (it connects in the background).
    pub async fn wait_connected(&self) -> anyhow::Result<()> {
        let mut opened = self.opened.subscribe();
        let connected = opened.wait_for(|n| *n > 0);
        match tokio::time::timeout(Duration::from_secs(10), connected).await {
            Ok(Ok(_)) => Ok(()),
            _ => anyhow::bail!("trustpulse never opened a Socket Mode connection"),
        }
    }
}
