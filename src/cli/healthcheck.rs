//! `trustpulse healthcheck`: the container health check, without curl in the image.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::Settings;

/// GET `/healthz` on this machine's `serve` (the listen address, with an unspecified IP such as
/// 0.0.0.0 read as loopback); Ok when it answers 200 within two seconds.
pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let mut addr = settings.listen;
    if addr.ip().is_unspecified() {
        let loopback = match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        addr = SocketAddr::new(loopback, addr.port());
    }
    let status = tokio::time::timeout(Duration::from_secs(2), get_healthz(addr))
        .await
        .with_context(|| format!("no answer from trustpulse at {addr} within 2 s"))??;
    anyhow::ensure!(
        status == 200,
        "trustpulse at {addr} answered /healthz with {status}"
    );
    println!("ok");
    Ok(())
}

async fn get_healthz(addr: SocketAddr) -> anyhow::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("could not connect to trustpulse at {addr}"))?;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let status_line = String::from_utf8_lossy(&response);
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .context("not an HTTP answer")?;
    Ok(status)
}
