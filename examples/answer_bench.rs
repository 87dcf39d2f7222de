//! The answer-path benchmark: how fast the real `trustpulse serve` takes survey answers,
//! against a trivial axum server (the floor) measured in the same run.
//!
//! ```sh
//! bench/answers.sh                               # builds, then runs this with the defaults
//! bench/answers.sh --sellers 300000 --seconds 5  # more invitees, longer runs
//! ```
//!
//! Set-up, with the project's own commands: a roster of `--sellers` sellers in teams of
//! `--team`, imported with `trustpulse roster import`; one pulse per team opened with
//! `trustpulse wave start`; then `trustpulse serve` against the fake Slack. The fake answers
//! the first invitation with a long 429, so every send is paused and only answers are measured.
//!
//! Load: `wrk` (Debian's package) with `bench/answers.lua`, sending `view_submission`
//! requests shaped and signed as Slack sends them, each a first answer by a different invitee,
//! at 64 and at 4 connections; then 200 requests a second for at least 10 seconds from a paced
//! client here, latency counted from each request's scheduled time; then ten answers one at a
//! time, each 1.5 s after the last (as a real org's come, minutes apart, each after a quiet
//! moment). The floor gets the same requests. Prints requests per second, p50/p99, CPU per
//! request (from `/proc`) and peak RSS, the lone answers' waits, and the ratios; and how idle
//! the machine's cores were during each load at 64 connections (`/proc/stat`), which says
//! whether the pace there was the CPU.
//!
//! A second floor, the durable floor, also reads the body, but answers only once it is synced
//! to a file beside the database (every body waiting at that moment in one `fsync`, in a log
//! that wraps at the WAL's 1 MiB): the least any server must do before it may acknowledge an
//! answer, which the issue asks of trustpulse ("acknowledged only after it is durably
//! committed"). It shows how much of the gap to the floor is this machine's disk.
//!
//! `--peer NAME=COMMAND` (repeatable) measures another server in the same run: `sh -c COMMAND`
//! in a process group of its own, with `PORT`, `SLACK_SIGNING_SECRET` and `PEER_DB` (a file in
//! the run's directory) set; its CPU and peak RSS are those of every process in the group.
//! `bench/peers.sh` runs it with minimal Bolt apps (`bench/peers/`).
//!
//! `ANSWER_BENCH_DATABASE_URL=postgres://…` runs trustpulse on PostgreSQL instead of SQLite, in
//! a fresh database next to the one named, dropped afterwards. trustpulse's CPU then includes
//! the PostgreSQL server's (every process named `postgres` on this machine: the server must
//! run here for its share to be counted), which does much of an answer's work; its memory
//! does not (the server's shared buffers are in every one of its processes' RSS).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use trustpulse::sim::fake_slack::{BOT_TOKEN, FakeSlack, FakeUser, Fault};
use trustpulse::sim::payloads;
use trustpulse::slack::verify;

#[path = "shared/bench_database.rs"]
mod bench_database;
use bench_database::BenchDatabase;
#[path = "shared/callgrind.rs"]
mod callgrind;
#[path = "shared/disturbed.rs"]
mod disturbed;
#[path = "shared/machine_cpu.rs"]
mod machine_cpu;
#[path = "shared/process_cpu.rs"]
mod process_cpu;
#[path = "shared/thread_counts.rs"]
mod thread_counts;
#[path = "shared/thread_states.rs"]
mod thread_states;

/// Names a PostgreSQL server to run trustpulse on instead of SQLite.
const URL_VARIABLE: &str = "ANSWER_BENCH_DATABASE_URL";

const SIGNING_SECRET: &str = "bench-signing-secret";
/// As a deployment should run: the windows' keys mixed with a token secret (made up).
const TOKEN_SECRET: &str = "bench-token-secret-made-up-0123456789abcdef";
/// The name `bench/peers.sh` gives Bolt for JavaScript, whose figures issue 12's goals quote.
const BOLT_JS: &str = "bolt-js";
const THANKS: &str = r#"{"response_action":"update","view":{"type":"modal","title":{"type":"plain_text","text":"Thank you"}}}"#;

struct Options {
    sellers: usize,
    team: usize,
    seconds: u64,
    /// Another build of `trustpulse` to measure (an earlier commit, for a before/after).
    binary: Option<PathBuf>,
    /// Other servers to measure in the same run: (name, shell command).
    peers: Vec<(String, String)>,
    /// Instead of the timed runs: the instructions of this many answers, counted by callgrind.
    callgrind: Option<usize>,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        // 60,000 ran out within 3 seconds at 64 connections on a fast machine (36,000 answers
        // at 12,000 a second; that run takes 60% of the invitees).
        sellers: 150_000,
        team: 200,
        seconds: 3,
        binary: None,
        peers: Vec::new(),
        callgrind: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || -> anyhow::Result<u64> {
            args.next()
                .with_context(|| format!("{arg} needs a value"))?
                .parse()
                .with_context(|| format!("{arg} needs a whole number"))
        };
        match arg.as_str() {
            "--sellers" => options.sellers = value()? as usize,
            "--team" => options.team = value()? as usize,
            "--seconds" => options.seconds = value()?,
            "--callgrind" => options.callgrind = Some(value()? as usize),
            "--binary" => {
                let path = args.next().context("--binary needs a path")?;
                // The set-up runs the binary from a directory of its own, where a relative
                // path would name nothing; resolve it here, while it means what the user meant.
                let resolved = std::fs::canonicalize(&path).with_context(|| {
                    format!("--binary {path}: no such file (give the path of a trustpulse build)")
                })?;
                options.binary = Some(resolved)
            }
            "--peer" => {
                let peer = args.next().context("--peer needs NAME=COMMAND")?;
                let (name, command) = peer.split_once('=').context("--peer needs NAME=COMMAND")?;
                options.peers.push((name.to_owned(), command.to_owned()));
            }
            other => bail!(
                "unknown option {other}; options: --sellers N --team N --seconds N --binary PATH --peer NAME=COMMAND --callgrind N"
            ),
        }
    }
    Ok(options)
}

fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("--floor") => return floor_server(),
        Some("--durable-floor") => {
            let dir = std::env::args()
                .nth(2)
                .context("--durable-floor needs a directory")?;
            return durable_floor_server(dir.into());
        }
        _ => {}
    }
    let options = options()?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?
        .block_on(bench(options))
}

/// The floor: reads the body and answers with a modal update of the same shape, nothing else.
fn floor_server() -> anyhow::Result<()> {
    use axum::routing::post;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            println!("{}", listener.local_addr()?.port());
            let app = axum::Router::new().route(
                "/slack/interactions",
                post(|_body: axum::body::Bytes| async {
                    ([("content-type", "application/json")], THANKS)
                }),
            );
            axum::serve(listener, app).await?;
            anyhow::Ok(())
        })
}

/// The durable floor: the floor, answering only after the body is synced to disk.
fn durable_floor_server(dir: PathBuf) -> anyhow::Result<()> {
    use axum::routing::post;
    let (bodies, received) = std::sync::mpsc::channel();
    let log = dir.join("durable-floor.log");
    std::thread::spawn(move || {
        if let Err(error) = sync_bodies(&log, received) {
            eprintln!("the durable floor's log failed: {error}");
            std::process::exit(1);
        }
    });
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            println!("{}", listener.local_addr()?.port());
            let app = axum::Router::new().route(
                "/slack/interactions",
                post(move |body: axum::body::Bytes| async move {
                    let (synced, on_disk) = tokio::sync::oneshot::channel();
                    let _ = bodies.send((body, synced));
                    match on_disk.await {
                        Ok(()) => Ok(([("content-type", "application/json")], THANKS)),
                        Err(_) => Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
                    }
                }),
            );
            axum::serve(listener, app).await?;
            anyhow::Ok(())
        })
}

/// The durable floor's one writer: whatever bodies are waiting, written together and synced
/// with one `fsync` (as SQLite syncs its WAL), then acknowledged.
fn sync_bodies(
    log: &Path,
    received: std::sync::mpsc::Receiver<(bytes::Bytes, tokio::sync::oneshot::Sender<()>)>,
) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    /// As the WAL's limit: the log is rewritten from its start, not grown.
    const WRAP: u64 = 1 << 20;
    let file = std::fs::File::create(log)?;
    let mut at = 0;
    let mut batch = Vec::new();
    let mut buffer = Vec::new();
    while let Ok(first) = received.recv() {
        batch.push(first);
        batch.extend(received.try_iter());
        buffer.clear();
        for (body, _) in &batch {
            buffer.extend_from_slice(body);
        }
        if at + buffer.len() as u64 > WRAP {
            at = 0;
        }
        file.write_all_at(&buffer, at)?;
        at += buffer.len() as u64;
        file.sync_all()?;
        for (_, synced) in batch.drain(..) {
            let _ = synced.send(());
        }
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let release = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot find target/release")?;
    let binary = release.join("trustpulse");
    if !binary.exists() {
        bail!(
            "{} is missing: run `cargo build --release` first (bench/answers.sh does)",
            binary.display()
        );
    }
    Ok(binary)
}

struct Setup {
    dir: tempfile::TempDir,
    db_url: String,
    fake: FakeSlack,
}

impl Setup {
    fn command(&self, binary: &Path) -> Command {
        self.configure(Command::new(binary))
    }

    /// `command` (trustpulse, or a program that runs it) made `trustpulse serve` on `port`.
    fn serve(&self, command: Command, port: u16) -> Command {
        let mut serve = self.configure(command);
        serve
            .arg("serve")
            .env("TRUSTPULSE_LISTEN", format!("127.0.0.1:{port}"))
            .env("TRUSTPULSE_METRICS_LISTEN", "127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        serve
    }

    /// `command` with the settings every trustpulse command of the run gets, and no others.
    fn configure(&self, mut command: Command) -> Command {
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("DATABASE_URL", &self.db_url)
            .env("SLACK_BOT_TOKEN", BOT_TOKEN)
            .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
            .env("TRUSTPULSE_TOKEN_SECRET", TOKEN_SECRET)
            .env("SLACK_API_URL", self.fake.api_url())
            .env("RUST_LOG", "warn");
        // Allocator and runtime settings pass through, for experiments (the nineteenth and
        // twentieth sessions tried glibc's tunables; docs/benchmarks.md, answer path).
        for setting in ["MALLOC_ARENA_MAX", "GLIBC_TUNABLES", "TOKIO_WORKER_THREADS"] {
            if let Ok(value) = std::env::var(setting) {
                command.env(setting, value);
            }
        }
        command
    }

    /// Starts a peer: `command` in a shell, in a process group of its own.
    async fn peer(&self, name: &str, command: &str) -> anyhow::Result<Server> {
        use std::os::unix::process::CommandExt;
        let port = free_port()?;
        let child = Command::new("sh")
            .args(["-c", command])
            .env("PORT", port.to_string())
            .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
            .env("PEER_DB", self.dir.path().join(format!("{name}.db")))
            .process_group(0)
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("could not start the peer {name}"))?;
        // As a group from the start: a peer that never listens is ended whole.
        Server::start(child, port, true, true).await
    }
}

fn run_ok(mut command: Command, what: &str) -> anyhow::Result<()> {
    let output = command.stdout(Stdio::null()).output()?;
    if !output.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// How many teams' pulses one `wave start` opens (`--manager` repeated). With a command a
/// team, the 15,000 teams of `--team 10` took 8 minutes to set up (a process's start and its
/// opening of the store, for each); 500 a command, 22 s.
const WAVES_PER_COMMAND: usize = 500;

/// Opens the pulses of `managers`' teams with the project's own command, many a command. A
/// `--binary` older than the repeated `--manager` refuses a second one (clap's usage error,
/// exit code 2), and then gets one command a team.
fn start_waves(setup: &Setup, binary: &Path, managers: &[String]) -> anyhow::Result<()> {
    for (i, chunk) in managers.chunks(WAVES_PER_COMMAND).enumerate() {
        let mut start = setup.command(binary);
        start.args(["wave", "start"]);
        for manager in chunk {
            start.args(["--manager", manager]);
        }
        let output = start.stdout(Stdio::null()).output()?;
        if output.status.success() {
            continue;
        }
        if i == 0 && chunk.len() > 1 && output.status.code() == Some(2) {
            for manager in managers {
                let mut start = setup.command(binary);
                start.args(["wave", "start", "--manager", manager]);
                run_ok(start, "trustpulse wave start")?;
            }
            return Ok(());
        }
        bail!(
            "trustpulse wave start failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

async fn bench(options: Options) -> anyhow::Result<()> {
    // Checked before the set-up, which takes most of a minute: not after it.
    let found = Command::new("wrk").arg("--version").output();
    let valgrind = options
        .callgrind
        .map(|_| callgrind::valgrind())
        .transpose()?;
    if let Some(answers) = options.callgrind {
        // Every seller is invited once, and the warm-up takes its own.
        anyhow::ensure!(
            answers > 0 && CALLGRIND_WARM_UP + answers <= options.sellers,
            "--callgrind takes 1 to {} answers with --sellers {} (raise --sellers for more)",
            options.sellers.saturating_sub(CALLGRIND_WARM_UP),
            options.sellers
        );
    }
    anyhow::ensure!(
        options.callgrind.is_some() || found.is_ok(),
        "answer_bench loads the servers with wrk, which is not on the PATH: apt-get install wrk (or brew install wrk)"
    );
    let binary = match &options.binary {
        Some(path) => path.clone(),
        None => binary()?,
    };
    let teams = options.sellers.div_ceil(options.team);
    let seller = |i: usize| format!("U0S{i:07}");
    let manager = |t: usize| format!("U0M{t:05}");
    let mut users: Vec<FakeUser> = (0..options.sellers)
        .map(|i| FakeUser::new(&seller(i), "Europe/Berlin"))
        .collect();
    users.extend((0..teams).map(|t| FakeUser::new(&manager(t), "Europe/Berlin")));
    let fake = FakeSlack::start(users).await?;
    fake.keep_no_bodies();
    // A workspace-wide 429 for an hour on the first invitation: sends pause, answers go on.
    fake.fail_next(
        "chat.postMessage",
        Fault::RateLimited {
            retry_after_secs: 3600,
        },
    );
    let dir = tempfile::tempdir()?;
    let database = BenchDatabase::fresh(URL_VARIABLE, "answers").await?;
    let on_postgres = database.url.starts_with("postgres");
    let setup = Setup {
        dir,
        db_url: database.url.clone(),
        fake,
    };

    eprintln!(
        "set-up: {} sellers in {teams} teams, on {}",
        options.sellers,
        bench_database::backend_named_by(URL_VARIABLE)
    );
    let started = Instant::now();
    let csv: String = std::iter::once("seller,manager\n".to_owned())
        .chain(
            (0..options.sellers).map(|i| format!("{},{}\n", seller(i), manager(i / options.team))),
        )
        .collect();
    let roster = setup.dir.path().join("roster.csv");
    std::fs::write(&roster, csv)?;
    let mut import = setup.command(&binary);
    import.args(["roster", "import"]).arg(&roster);
    run_ok(import, "trustpulse roster import")?;
    let managers: Vec<String> = (0..teams).map(manager).collect();
    start_waves(&setup, &binary, &managers)?;
    eprintln!("set-up took {:.1} s", started.elapsed().as_secs_f64());

    // Which wave each seller was invited to, read from the database the commands wrote (with
    // plain SQL: opening it as a `Store` would migrate it, and `--binary` may be older).
    let mut invited: Vec<(String, String)> = {
        use sqlx::Connection;
        const INVITED: &str = "SELECT person_id, wave_id FROM wave_invitees";
        if on_postgres {
            let mut conn = sqlx::PgConnection::connect(&setup.db_url).await?;
            let rows = sqlx::query_as(INVITED).fetch_all(&mut conn).await?;
            conn.close().await?;
            rows
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&setup.db_url).await?;
            let rows = sqlx::query_as(INVITED).fetch_all(&mut conn).await?;
            conn.close().await?;
            rows
        }
    };
    // In a random order across the org, as answers arrive in a real one (a fixed seed, so
    // every run sends the same). Teams taken in turn, in the order of their pulses' ids, sent
    // each batch to neighbouring keys of the answer tables (a pulse's rows lead with its id),
    // so a batch wrote fewer pages than answers from anywhere in the org do: on SQLite the
    // rate at 64 connections came out at 19.7% of the floor's in the same run against 10.2%
    // with teams of 10, and 12.5% against 10.9% with teams of 200 (one run each).
    invited.sort();
    invited.shuffle(&mut rand::rngs::StdRng::seed_from_u64(12));
    if let (Some(answers), Some(valgrind)) = (options.callgrind, valgrind) {
        let counted = count_instructions(&setup, &valgrind, &binary, &invited, answers).await;
        database.drop().await?;
        return counted;
    }

    let port = free_port()?;
    let serve = setup.serve(Command::new(&binary), port).spawn()?;
    let mut serve = Server::start(serve, port, true, false).await?;
    serve.with_postgres = on_postgres;
    // `serve` does its start-up work after it listens: the scrub's one reading of the whole
    // database file (180 MB here) took about 0.35 s of CPU, inside the first measured run. Measured
    // from here on is the server at rest, as the floor is.
    let settled = serve.settle().await?;
    eprintln!("trustpulse settled {settled:.1} s after it listened");
    let floor = start_floor(&["--floor"]).await?;
    let durable_floor =
        start_floor(&["--durable-floor", &setup.dir.path().display().to_string()]).await?;
    let mut peers = Vec::new();
    for (name, command) in &options.peers {
        peers.push((name.clone(), setup.peer(name, command).await?));
    }

    // Each run takes its own invitees: 60% for 64 connections, 35% for 4, the rest for 200/s
    // but for the few that answer as the first load ends (`Server::after_load`).
    let n = invited.len();
    let (wide, rest) = invited.split_at(n * 60 / 100);
    let (narrow, rest) = rest.split_at(n * 35 / 100);
    let (paced, late) = rest.split_at(rest.len().saturating_sub(LATE_ANSWERS));
    let (paced, lone) = paced.split_at(paced.len().saturating_sub(LONE_ANSWERS));
    let work = setup.dir.path();
    eprintln!(
        "peak RSS before any answer: trustpulse {} MiB, floor {} MiB, durable floor {} MiB",
        serve.peak_rss_kib()? / 1024,
        floor.peak_rss_kib()? / 1024,
        durable_floor.peak_rss_kib()? / 1024
    );
    let mut report = Report::default();
    let servers = [
        ("trustpulse".to_owned(), &serve),
        ("floor".to_owned(), &floor),
        (DURABLE_FLOOR.to_owned(), &durable_floor),
    ]
    .into_iter()
    .chain(peers.iter().map(|(name, server)| (name.clone(), server)));
    for (name, server) in servers {
        let mut wide_run = wrk(work, server, wide, 64, options.seconds)?;
        let (after_cpu, late_ms) = server.after_load(late).await?;
        wide_run.after_cpu_us_per_request = after_cpu * 1e6 / wide_run.requests as f64;
        wide_run.late_ms = late_ms;
        let mut narrow_run = wrk(work, server, narrow, 4, options.seconds)?;
        narrow_run.after_cpu_us_per_request =
            server.after_load(&[]).await?.0 * 1e6 / narrow_run.requests as f64;
        // What the runs before it left in each pulse: the moves at 200 a second rewrite whole
        // pulses, so a build that answered more at 64 connections meets larger ones.
        let answered_before = wide_run.requests + late.len() as u64 + narrow_run.requests;
        let mut paced_run = paced_200(server, paced, options.seconds.max(PACED_SECONDS)).await?;
        paced_run.pulses_held = answered_before as f64 / teams as f64;
        server.settle().await?;
        let lone_run = lone_answers(server.port, lone).await?;
        report.rows.push(Row {
            name,
            wide: wide_run,
            narrow: narrow_run,
            paced: paced_run,
            rss_kib: server.peak_rss_kib()?,
            lone: lone_run,
        });
    }
    drop(serve);
    drop(floor);
    drop(durable_floor);
    drop(peers);
    database.drop().await?;
    report.print();
    if let Some(Row { wide, narrow, .. }) = report.rows.first().filter(|_| on_postgres) {
        let database = (wide.database_cpu_us_per_request * wide.requests as f64
            + narrow.database_cpu_us_per_request * narrow.requests as f64)
            / (wide.requests + narrow.requests) as f64;
        println!();
        println!(
            "trustpulse ran on PostgreSQL: its CPU per request includes the PostgreSQL server's, {database:.0} µs of it; its peak RSS does not"
        );
    }
    Ok(())
}

/// This bench run as one of the floors (`--floor`, `--durable-floor DIR`).
async fn start_floor(args: &[&str]) -> anyhow::Result<Server> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().context("no stdout")?),
        &mut line,
    )?;
    let port = line.trim().parse()?;
    Server::start(child, port, false, false).await
}

const DURABLE_FLOOR: &str = "durable floor";

struct Server {
    child: Child,
    port: u16,
    /// Whether it records answers (trustpulse, a peer): then no request may be sent twice.
    records: bool,
    /// Whether it is a peer: the processes of its group count, and all of them are ended.
    group: bool,
    /// Whether the CPU of this machine's PostgreSQL server counts as this server's.
    with_postgres: bool,
}

impl Server {
    async fn start(child: Child, port: u16, records: bool, group: bool) -> anyhow::Result<Server> {
        Self::start_within(child, port, records, group, Duration::from_secs(60)).await
    }

    async fn start_within(
        child: Child,
        port: u16,
        records: bool,
        group: bool,
        within: Duration,
    ) -> anyhow::Result<Server> {
        let server = Server {
            child,
            port,
            records,
            group,
            with_postgres: false,
        };
        let deadline = Instant::now() + within;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!("the server on port {port} did not start");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    /// Waits until the server has used at most one clock tick (10 ms, 2% of a core) in half a
    /// second; how long that took, in seconds.
    async fn settle(&self) -> anyhow::Result<f64> {
        const QUIET: Duration = Duration::from_millis(500);
        let started = Instant::now();
        let mut before = self.cpu_secs()?;
        loop {
            tokio::time::sleep(QUIET).await;
            let now = self.cpu_secs()?;
            if now - before < 0.011 {
                return Ok(started.elapsed().as_secs_f64());
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!(
                    "the server on port {} kept busy for two minutes after it started",
                    self.port
                );
            }
            before = now;
        }
    }

    /// The CPU time, in seconds, the server spends once a load has stopped, until it is quiet
    /// again: work it put off until then, which the load's own figure leaves out (trustpulse:
    /// the answer shuffle on PostgreSQL and the WAL's emptying on SQLite, both once no answer
    /// has come for a second). Each run then also starts on a quiet server.
    ///
    /// And how long each of `late` waited, in the order sent, in milliseconds from when it was
    /// due: first answers sent one every [`LATE_EVERY`] from [`LATE_FROM`] after the load, when
    /// trustpulse has begun that work. A seller answering then waits for whatever of it cannot
    /// give way; past three seconds, Slack shows them an error. Their CPU is counted with the
    /// rest (a handful of answers against the load's thousands). Each wait, not the longest
    /// alone: for one build the longest was 16.3 ms in one run and 4.1 in the next, as the first
    /// answer came during a move or between two (sixty-eighth session, docs/benchmarks.md).
    async fn after_load(&self, late: &[(String, String)]) -> anyhow::Result<(f64, Vec<f64>)> {
        /// Past trustpulse's quiet second (`store::wal_forgetting::QUIET`), so that the work
        /// it waits for has begun before `settle` looks for quiet.
        const PUT_OFF: Duration = Duration::from_millis(1500);
        let before = self.cpu_secs()?;
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let start = tokio::time::Instant::now() + LATE_FROM;
        let answers: Vec<_> = late
            .iter()
            .enumerate()
            .map(|(i, (person, wave))| {
                let (ts, signature, body) = signed_submission(person, wave, i);
                let due = start + LATE_EVERY * i as u32;
                tokio::spawn(async move {
                    tokio::time::sleep_until(due).await;
                    let ok = post_once(addr, ts, &signature, &body).await?;
                    anyhow::ensure!(ok, "an answer after the load was not thanked");
                    anyhow::Ok(due.elapsed().as_secs_f64() * 1000.0)
                })
            })
            .collect();
        tokio::time::sleep(PUT_OFF).await;
        let mut waits = Vec::with_capacity(answers.len());
        for answer in answers {
            waits.push(answer.await??);
        }
        self.settle().await?;
        Ok((self.cpu_secs()? - before, waits))
    }

    /// The processes measured: the child, or every process of a peer's group.
    fn pids(&self) -> anyhow::Result<Vec<u32>> {
        let own = self.child.id();
        if !self.group {
            return Ok(vec![own]);
        }
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc")? {
            let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            // A process may end between the listing and the reading.
            let Ok(fields) = stat_fields(pid) else {
                continue;
            };
            if fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(own) {
                pids.push(pid);
            }
        }
        Ok(pids)
    }

    /// User plus system CPU time so far, in seconds (with the PostgreSQL server's, if it
    /// counts).
    fn cpu_secs(&self) -> anyhow::Result<f64> {
        let mut ticks = 0.0;
        for pid in self.pids()? {
            let fields = stat_fields(pid)?;
            ticks += fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
        }
        Ok(ticks / 100.0 + self.postgres_secs()?)
    }

    /// Its threads' counters now: none for a peer, whose processes come and go.
    fn threads(&self) -> anyhow::Result<thread_counts::Threads> {
        if self.group {
            return Ok(thread_counts::Threads::default());
        }
        thread_counts::Threads::read(self.child.id())
    }

    /// The PostgreSQL server's CPU time so far, in seconds, if it counts as this server's.
    fn postgres_secs(&self) -> anyhow::Result<f64> {
        // A backend that ends between two readings takes its time with it; trustpulse's pool
        // keeps its connections through a run.
        Ok(if self.with_postgres {
            process_cpu::postgres_cpu_secs()
        } else {
            0.0
        })
    }

    /// The peak RSS; of a peer, the sum of its processes' peaks.
    fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let mut kib = 0;
        for pid in self.pids()? {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
            let line = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .context("no VmHWM")?;
            kib += line
                .split_whitespace()
                .nth(1)
                .context("odd VmHWM")?
                .parse::<u64>()?;
        }
        Ok(kib)
    }
}

/// The fields of `/proc/PID/stat` after the command's name (state first).
fn stat_fields(pid: u32) -> anyhow::Result<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_name = stat.rsplit_once(')').context("odd /proc stat")?.1;
    Ok(after_name.split_whitespace().map(str::to_owned).collect())
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.group {
            // The whole group this bench started (uvicorn's workers, say), by its id.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
        } else {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// `name` and its late answers' waits (`Server::after_load`), each, then at the median / at
/// most.
fn late_waits(name: &str, waits: &[f64]) -> String {
    let mut sorted = waits.to_vec();
    sorted.sort_by(f64::total_cmp);
    let each: Vec<String> = waits.iter().map(|ms| format!("{ms:.1}")).collect();
    match (sorted.get(sorted.len() / 2), sorted.last()) {
        (Some(median), Some(longest)) => {
            format!("{name} {} ms ({median:.1} / {longest:.1})", each.join(", "))
        }
        _ => format!("{name} none"),
    }
}

/// One signed request: (timestamp, signature, form body), as Slack sends a modal submission.
fn signed_submission(person: &str, wave_id: &str, n: usize) -> (i64, String, String) {
    let score = |k: usize| ((n + k) % 5 + 1).to_string();
    let comment = n.is_multiple_of(4).then_some("More one-to-ones, please.");
    let values = payloads::survey_values([&score(0), &score(1), &score(2)], comment);
    let payload = payloads::survey_submission(person, wave_id, n as u64 + 1, values).to_string();
    let body = serde_urlencoded::to_string([("payload", payload)]).expect("a form encodes");
    let ts = jiff::Timestamp::now().as_second();
    let signature = verify::sign(SIGNING_SECRET, ts, body.as_bytes());
    (ts, signature, body)
}

/// Writes one request file per wrk thread; returns the files' common prefix.
fn request_files(
    dir: &Path,
    name: &str,
    invited: &[(String, String)],
    threads: usize,
) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    let prefix = dir.join(name);
    let mut files = (0..threads)
        .map(|t| {
            std::fs::File::create(format!("{}-{t}.txt", prefix.display()))
                .map(std::io::BufWriter::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (i, (person, wave)) in invited.iter().enumerate() {
        let (ts, signature, body) = signed_submission(person, wave, i);
        writeln!(files[i % threads], "{ts}\t{signature}\t{body}")?;
    }
    // On disk before the load starts: otherwise the kernel writes these hundreds of megabytes
    // back some 30 s later, in the middle of a later phase, and the answers' syncs of the WAL
    // queue behind them (stalls of 40 to 170 ms, which were that phase's p99).
    for file in files {
        file.into_inner()?.sync_all()?;
    }
    Ok(prefix)
}

#[derive(Debug, Clone, Default)]
struct Run {
    requests: u64,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_request: f64,
    /// Of `cpu_us_per_request`, the PostgreSQL server's (trustpulse on PostgreSQL), else 0.
    database_cpu_us_per_request: f64,
    /// The CPU the server spent after the load, until it was quiet again, per request of the
    /// load (`Server::after_load`); not in `cpu_us_per_request`.
    after_cpu_us_per_request: f64,
    /// The waits of the answers sent as the load ended, in the order they were sent
    /// (`Server::after_load`).
    late_ms: Vec<f64>,
    /// What each of the server's threads did during the load, by name (with how many threads
    /// had it), for one process only: not a peer's group of processes.
    threads: BTreeMap<String, (usize, thread_counts::Counts)>,
    /// The answers each pulse held on average as the run began, from the runs before it (the
    /// paced run only): under a steady stream a pulse is rewritten whole (on SQLite and on
    /// PostgreSQL), so a build that answered more at 64 connections meets larger pulses at
    /// 200 a second.
    pulses_held: f64,
    /// The whole machine's idle share during the load (wrk's runs only).
    machine: Option<machine_cpu::Idle>,
    /// The answers' writer's states through the same window (trustpulse on SQLite only).
    writer: Option<thread_states::States>,
}

fn wrk(
    dir: &Path,
    server: &Server,
    invited: &[(String, String)],
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Run> {
    let threads = 2;
    let prefix = request_files(
        dir,
        &format!("c{connections}-{}", server.port),
        invited,
        threads,
    )?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/answers.lua");
    // The gate the script's threads start sending through together (`bench/answers.lua`).
    let gate = PathBuf::from(format!("{}-go", prefix.display()));
    match std::fs::remove_file(&gate) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let cpu_before = server.cpu_secs()?;
    let database_before = server.postgres_secs()?;
    let threads_before = server.threads()?;
    let mut wrk = Command::new("wrk")
        .args(["-t", &threads.to_string(), "-c", &connections.to_string()])
        .args(["-d", &format!("{seconds}s"), "--timeout", "10s", "-s"])
        .arg(&script)
        .arg(format!("http://127.0.0.1:{}", server.port))
        .arg("--")
        .arg(&prefix)
        .arg(if server.records { "stop" } else { "wrap" })
        .arg(threads.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("could not run wrk")?;
    // From the threads just read (none for a peer's group of processes).
    let writer: Vec<PathBuf> = if connections == WRITER_READ_AT {
        threads_before
            .named(WRITER_THREAD)
            .map(|tid| thread_states::stat_file(server.child.id(), tid))
            .collect()
    } else {
        Vec::new()
    };
    let (machine, writer) =
        machine_during_load(&mut wrk, &gate, Duration::from_secs(seconds), &writer);
    let output = wrk.wait_with_output().context("could not run wrk")?;
    let cpu = server.cpu_secs()? - cpu_before;
    let database_cpu = server.postgres_secs()? - database_before;
    let threads = server.threads()?.since(&threads_before);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .with_context(|| {
            format!(
                "wrk printed no result: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let field = |name: &str| -> f64 {
        result
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    if field("failed") > 0.0 || field("socket_errors") > 0.0 {
        bail!(
            "{} answers were not thanked ({} socket errors) at {connections} connections",
            field("failed"),
            field("socket_errors")
        );
    }
    if field("ran_out") > 0.0 {
        bail!(
            "{connections} connections ran out of invitees after {} answers; run with more --sellers or fewer --seconds",
            field("requests")
        );
    }
    let requests = field("requests");
    Ok(Run {
        requests: requests as u64,
        per_sec: requests / (field("duration_us") / 1e6),
        p50_ms: field("p50_us") / 1000.0,
        p99_ms: field("p99_us") / 1000.0,
        cpu_us_per_request: cpu * 1e6 / requests,
        database_cpu_us_per_request: database_cpu * 1e6 / requests,
        after_cpu_us_per_request: 0.0,
        late_ms: Vec::new(),
        threads,
        machine,
        writer,
        pulses_held: f64::NAN,
    })
}

/// How idle the machine's cores were while wrk loaded the server: read from `/proc/stat`
/// inside the load's window, which opens when wrk's last thread opens the gate (wrk times the
/// run from then, `bench/answers.lua`) and lasts `seconds`. A tenth of a second is left off at
/// each end, for the threads' first and last requests. None if wrk ended before the gate
/// opened (it failed; its output says why) or the load was too short to leave a window.
/// Through the same window, the states of the threads whose `stat` files are in `watch`, read
/// every [`STATE_EVERY`] (none if `watch` is empty).
fn machine_during_load(
    wrk: &mut Child,
    gate: &Path,
    seconds: Duration,
    watch: &[PathBuf],
) -> (Option<machine_cpu::Idle>, Option<thread_states::States>) {
    const MARGIN: Duration = Duration::from_millis(100);
    // wrk loads every thread's requests before the gate opens: seconds for a large run.
    while !gate.exists() {
        if !matches!(wrk.try_wait(), Ok(None)) {
            return (None, None);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let Some(window) = seconds.checked_sub(2 * MARGIN) else {
        return (None, None);
    };
    std::thread::sleep(MARGIN);
    let Ok(before) = machine_cpu::MachineCpu::read() else {
        return (None, None);
    };
    let end = Instant::now() + window;
    let mut states = thread_states::States::default();
    if watch.is_empty() {
        std::thread::sleep(window);
    } else {
        while Instant::now() < end {
            thread_states::sample(watch, &mut states);
            std::thread::sleep(STATE_EVERY);
        }
    }
    let machine = machine_cpu::MachineCpu::read()
        .ok()
        .and_then(|now| now.since(before));
    (machine, (states.samples() > 0).then_some(states))
}

/// The answers' writer on SQLite (`src/store/sqlite_writer`), the one part of an answer that
/// runs in series.
const WRITER_THREAD: &str = "answers-writer";

/// The writer's state is read at 64 connections only, where the pace is set; at 4 the readings
/// would run beside the latencies being measured.
const WRITER_READ_AT: usize = 64;

/// How often the writer's state is read during that load. Every millisecond cost the bench
/// 2.8% of a core (`perf stat -e task-clock -p` of the bench), taken from trustpulse's load
/// alone; every two, about half that, for about 1,150 readings in a 3-second run.
const STATE_EVERY: Duration = Duration::from_millis(2);

/// First answers sent as the 64-connection load ends (`Server::after_load`): one every
/// `LATE_EVERY` from `LATE_FROM` on, through the two seconds after trustpulse's quiet second.
const LATE_ANSWERS: usize = 8;
const LATE_FROM: Duration = Duration::from_millis(1100);
const LATE_EVERY: Duration = Duration::from_millis(250);

/// The paced run's least length. Its p99 is then the 20th-slowest of 2,000 answers; in a
/// 3-second run it was the 6th-slowest of 600, and one stall of the machine moved it by tens
/// of milliseconds from run to run. 2,000 is within the 5% of the default 150,000 invitees that
/// this run takes.
const PACED_SECONDS: u64 = 10;

/// 200 requests a second for `seconds`, each on its own schedule: a slow answer delays no
/// other, and its latency counts from when it was due (no coordinated omission).
async fn paced_200(
    server: &Server,
    invited: &[(String, String)],
    seconds: u64,
) -> anyhow::Result<Run> {
    let total = (200 * seconds as usize).min(invited.len());
    let addr: SocketAddr = ([127, 0, 0, 1], server.port).into();
    let (cpu_before, threads_before) = (server.cpu_secs()?, server.threads()?);
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(total);
    for (i, (person, wave)) in invited.iter().take(total).enumerate() {
        let (ts, signature, body) = signed_submission(person, wave, i);
        let due = start + Duration::from_millis(5 * i as u64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(due).await;
            let ok = post_once(addr, ts, &signature, &body).await?;
            anyhow::ensure!(ok, "an answer was not thanked");
            anyhow::Ok(due.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for task in tasks {
        latencies.push(task.await??.as_secs_f64() * 1000.0);
    }
    // Up to the last answer's thanks: the moves of pulses answered in its last five seconds
    // come after, with the rest of what waits for a quiet moment.
    let cpu = server.cpu_secs()? - cpu_before;
    let threads = server.threads()?.since(&threads_before);
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Ok(Run {
        requests: total as u64,
        per_sec: 200.0,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        cpu_us_per_request: cpu * 1e6 / total.max(1) as f64,
        database_cpu_us_per_request: f64::NAN,
        after_cpu_us_per_request: f64::NAN,
        late_ms: Vec::new(),
        threads,
        machine: None,
        writer: None,
        pulses_held: f64::NAN,
    })
}

/// Answers sent one at a time after the server has been quiet (`lone_answers`), as they
/// come in a real org, minutes apart: each one trustpulse's first write after the quiet
/// moment in which it empties the SQLite WAL (and starts it again).
const LONE_ANSWERS: usize = 10;
/// Past trustpulse's quiet second (`store::wal_forgetting::QUIET`) and the work it does then.
const LONE_GAP: Duration = Duration::from_millis(1500);

/// How long answers sent alone wait for their thanks: each sent [`LONE_GAP`] after the last
/// one's thanks, on a fresh connection.
#[derive(Debug, Clone, Copy)]
struct Lone {
    p50_ms: f64,
    max_ms: f64,
}

/// Answers sent before callgrind starts counting: a fresh server's first answers prepare the
/// writer's statements and fill its page cache, which the answers after them find done.
const CALLGRIND_WARM_UP: usize = 20;

/// What `--callgrind` counts as the answer path, each with what it called: the requests
/// (hyper's connection task: HTTP, the signature, the form, the handler) and the answers'
/// writer, by callgrind's names for them. They are counted apart from the background tasks
/// that run meanwhile (the directory's sync after a start, the planner's ticks): with those,
/// the whole process's count varied by 1 to 2% between two runs of one binary, the answer
/// path's by 0.4%. The WAL thread's passes are left to the whole process's count: their work
/// is the kernel's, and their own instructions were 0.3% of the process's at this load.
const CALLGRIND_REQUESTS: &str = "axum::serve::handle_connection::{{closure}}::{{closure}}";
const CALLGRIND_WRITER: &str = "trustpulse::store::sqlite_writer::run";

/// SHA-256 (the request's signature, the participation token's key), part of both, shown
/// apart: valgrind's CPU has no SHA instructions, so `sha2` compresses in plain code there,
/// about 45% of the process's instructions, where on a CPU with them it was about 4% of
/// `perf`'s samples. Builds are best compared without it.
const CALLGRIND_SHA: &str = "sha2::sha256::compress256";

/// `--callgrind N`: `serve` under callgrind, N first answers sent one at a time (each once
/// the last one is thanked, as a real org's come), and the instructions they took printed, an
/// answer's on average. Start-up, the warm-up answers and shutdown are not counted; each
/// answer is a batch of one, so the figure is an answer's at light load, commit and all.
async fn count_instructions(
    setup: &Setup,
    valgrind: &Path,
    binary: &Path,
    invited: &[(String, String)],
    answers: usize,
) -> anyhow::Result<()> {
    let out = std::env::temp_dir().join(format!("answer_bench.{}.callgrind", std::process::id()));
    let mut command = Command::new(valgrind);
    command.args(callgrind::arguments(&out)).arg(binary);
    let port = free_port()?;
    let serve = setup.serve(command, port).spawn()?;
    // Under valgrind a start takes tens of seconds, not a fraction of one.
    let mut server =
        Server::start_within(serve, port, true, false, Duration::from_secs(300)).await?;
    server.settle().await?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let (warm, rest) = invited.split_at(CALLGRIND_WARM_UP);
    let pid = server.child.id();
    one_at_a_time(addr, warm, 0).await?;
    callgrind::collect(pid, true)?;
    one_at_a_time(addr, &rest[..answers], CALLGRIND_WARM_UP).await?;
    callgrind::collect(pid, false)?;
    // Ended as an operator would: callgrind writes its file once `serve` exits.
    let ended = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    anyhow::ensure!(ended.success(), "could not stop serve under callgrind");
    server.child.wait()?;
    let annotated = callgrind::annotate(&out)?;
    let total = annotated.total()?;
    let (requests, writer, sha) = (
        annotated.inclusive(CALLGRIND_REQUESTS),
        annotated.inclusive(CALLGRIND_WRITER),
        annotated.inclusive(CALLGRIND_SHA),
    );
    let each = |n: u64| n / answers as u64;
    println!(
        "{answers} first answers sent one at a time to {} serve under callgrind, after {CALLGRIND_WARM_UP} not counted",
        binary.display()
    );
    println!(
        "instructions an answer (user space only: not the kernel's work, not the disk's time):"
    );
    println!(
        "  {:>9}  the requests: HTTP, the signature, the form, the handler ({CALLGRIND_REQUESTS})",
        each(requests)
    );
    println!(
        "  {:>9}  the answers' writer ({CALLGRIND_WRITER})",
        each(writer)
    );
    println!("  {:>9}  the answer path: both", each(requests + writer));
    println!(
        "  {:>9}    of which SHA-256 ({CALLGRIND_SHA}), in plain code under valgrind",
        each(sha)
    );
    println!(
        "  {:>9}  the answer path without SHA-256: the figure to compare builds by",
        each((requests + writer).saturating_sub(sha))
    );
    println!(
        "  {:>9}  the whole process, with the background tasks that ran meanwhile (these vary from run to run)",
        each(total)
    );
    println!(
        "callgrind's file: {} (callgrind_annotate --inclusive=yes FILE | head -60)",
        out.display()
    );
    Ok(())
}

/// Sends `invited`'s first answers one at a time, each once the last is thanked.
async fn one_at_a_time(
    addr: SocketAddr,
    invited: &[(String, String)],
    first: usize,
) -> anyhow::Result<()> {
    for (i, (person, wave)) in invited.iter().enumerate() {
        let (ts, signature, body) = signed_submission(person, wave, first + i);
        let ok = post_once(addr, ts, &signature, &body).await?;
        anyhow::ensure!(ok, "an answer under callgrind was not thanked");
    }
    Ok(())
}

async fn lone_answers(port: u16, invited: &[(String, String)]) -> anyhow::Result<Lone> {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut latencies = Vec::with_capacity(invited.len());
    for (i, (person, wave)) in invited.iter().enumerate() {
        let (ts, signature, body) = signed_submission(person, wave, i);
        tokio::time::sleep(LONE_GAP).await;
        let sent = Instant::now();
        let ok = post_once(addr, ts, &signature, &body).await?;
        anyhow::ensure!(ok, "an answer sent alone was not thanked");
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    Ok(Lone {
        p50_ms: latencies
            .get(latencies.len() / 2)
            .copied()
            .unwrap_or(f64::NAN),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
    })
}

/// One HTTP/1.1 request on a fresh connection; whether the answer was the thanks.
async fn post_once(addr: SocketAddr, ts: i64, signature: &str, body: &str) -> anyhow::Result<bool> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "POST /slack/interactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         X-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {signature}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    Ok(response.starts_with("HTTP/1.1 200") && response.contains("Thank you"))
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
}

/// One server's runs, in the order they ran.
struct Row {
    name: String,
    /// At 64 connections.
    wide: Run,
    /// At 4 connections.
    narrow: Run,
    /// At 200 requests a second.
    paced: Run,
    rss_kib: u64,
    lone: Lone,
}

impl Report {
    fn print(&self) {
        println!();
        println!(
            "| server | req/s at 64 conns | p50 / p99 at 64 | p50 / p99 at 4 | p50 / p99 at 200 req/s | CPU per request | peak RSS |"
        );
        println!("|---|---|---|---|---|---|---|");
        for Row {
            name,
            wide,
            narrow,
            paced,
            rss_kib,
            ..
        } in &self.rows
        {
            println!(
                "| {name} | {:.0} | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {:.0} µs | {:.0} MiB |",
                wide.per_sec,
                wide.p50_ms,
                wide.p99_ms,
                narrow.p50_ms,
                narrow.p99_ms,
                paced.p50_ms,
                paced.p99_ms,
                cpu_per_request(wide, narrow),
                *rss_kib as f64 / 1024.0
            );
        }
        println!();
        let after: Vec<String> = self
            .rows
            .iter()
            .map(
                |Row {
                     name, wide, narrow, ..
                 }| {
                    format!("{name} {:.0} µs", cpu_after_load_per_request(wide, narrow))
                },
            )
            .collect();
        println!(
            "CPU per request after the loads at 64 and 4 connections, until the server was quiet again (not in the table): {}",
            after.join(", ")
        );
        let idle: Vec<String> = self
            .rows
            .iter()
            .map(|Row { name, wide, .. }| match wide.machine {
                Some(m) => format!("{name} {:.0}% / {:.0}%", m.idle_pct, m.iowait_pct),
                None => format!("{name} not read"),
            })
            .collect();
        println!(
            "The machine's cores during the load at 64 connections (from /proc/stat; wrk's work counts as busy), idle / idle while waiting for the disk: {}",
            idle.join(", ")
        );
        for Row { name, wide, .. } in &self.rows {
            if let Some(states) = wide.writer {
                println!(
                    "{name}'s answers' writer during the same window (its state read every {} ms, {} times): running or ready to run {:.0}%, waiting for the disk {:.0}%, asleep {:.0}% (for answers, its turn or a lock)",
                    STATE_EVERY.as_millis(),
                    states.samples(),
                    states.pct(states.running),
                    states.pct(states.disk),
                    states.pct(states.asleep)
                );
            }
        }
        let late: Vec<String> = self
            .rows
            .iter()
            .map(|Row { name, wide, .. }| late_waits(name, &wide.late_ms))
            .collect();
        println!(
            "The waits of {LATE_ANSWERS} first answers sent one every {} ms from {} ms after the load at 64 connections (trustpulse's quiet second, when it catches up), in the order sent, then at the median / at most: {}",
            LATE_EVERY.as_millis(),
            LATE_FROM.as_millis(),
            late.join(", ")
        );
        let lone: Vec<String> = self
            .rows
            .iter()
            .map(|Row { name, lone, .. }| {
                format!("{name} {:.2} / {:.2} ms", lone.p50_ms, lone.max_ms)
            })
            .collect();
        println!(
            "The wait of {LONE_ANSWERS} answers sent one at a time, each {} ms after the last one's thanks, at the median / at most: {}",
            LONE_GAP.as_millis(),
            lone.join(", ")
        );
        let paced: Vec<String> = self
            .rows
            .iter()
            .map(|Row { name, paced, .. }| format!("{name} {:.0} µs", paced.cpu_us_per_request))
            .collect();
        if let Some(Row {
            wide,
            narrow,
            paced: tp,
            ..
        }) = self.rows.first()
        {
            println!(
                "CPU per request at 200 requests a second, up to the last answer's thanks (trustpulse's pulses held {:.0} answers each on average as it began, from the runs before it; under a steady stream each pulse answered is rewritten whole five seconds after its first answer not rewritten yet, on SQLite and on PostgreSQL alike): {}",
                tp.pulses_held,
                paced.join(", ")
            );
            print_threads(wide, narrow, tp);
        }
        if let [
            Row {
                wide: tp,
                narrow: tp4,
                ..
            },
            Row {
                wide: floor,
                narrow: floor4,
                ..
            },
            Row {
                wide: durable,
                narrow: durable4,
                ..
            },
            peers @ ..,
        ] = self.rows.as_slice()
        {
            println!();
            println!(
                "trustpulse / floor: {:.1}% of the floor's requests per second at 64 connections; p99 at 4 connections {:.1}× the floor's",
                100.0 * tp.per_sec / floor.per_sec,
                tp4.p99_ms / floor4.p99_ms
            );
            println!(
                "durable floor / floor: {:.1}% of the floor's requests per second at 64 connections; p99 at 4 connections {:.1}× the floor's",
                100.0 * durable.per_sec / floor.per_sec,
                durable4.p99_ms / floor4.p99_ms
            );
            println!(
                "trustpulse / durable floor: {:.1}% of its requests per second at 64 connections; p99 at 4 connections {:.1}× its",
                100.0 * tp.per_sec / durable.per_sec,
                tp4.p99_ms / durable4.p99_ms
            );
            for Row {
                name,
                wide: peer,
                narrow: peer4,
                ..
            } in peers
            {
                println!(
                    "trustpulse / {name}: {:.1}× its requests per second at 64 connections; CPU per request {:.2}× its",
                    tp.per_sec / peer.per_sec,
                    cpu_per_request(tp, tp4) / cpu_per_request(peer, peer4)
                );
            }
            self.print_goals();
        }
    }

    /// Issue 12's goals for the answer path, each with this run's figure and whether it was
    /// met, so that a run says where it stands without arithmetic by hand. The goals against
    /// Bolt for JavaScript need it in the run (`bench/peers.sh`). The p99 at 4 connections is
    /// given against the floor (the issue's goal) and against the durable floor (the restated
    /// goal proposed in the issue's notes: no server that acknowledges only after a sync can
    /// meet the first on these machines' disks).
    fn print_goals(&self) {
        let [
            Row {
                wide: tp,
                narrow: tp4,
                paced: tp200,
                rss_kib: tp_rss,
                ..
            },
            Row {
                wide: floor,
                narrow: floor4,
                paced: floor200,
                ..
            },
            Row {
                narrow: durable4, ..
            },
            peers @ ..,
        ] = self.rows.as_slice()
        else {
            return;
        };
        let verdict = |met: bool| if met { "met" } else { "missed" };
        println!();
        println!("| issue 12's goal | this run | |");
        println!("|---|---|---|");
        if let Some(Row {
            wide: bolt,
            narrow: bolt4,
            ..
        }) = peers.iter().find(|row| row.name == BOLT_JS)
        {
            let times = tp.per_sec / bolt.per_sec;
            println!(
                "| at least 6× Bolt for JavaScript's req/s at 64 connections | {times:.1}× | {} |",
                verdict(times >= 6.0)
            );
            let share = cpu_per_request(tp, tp4) / cpu_per_request(bolt, bolt4);
            println!(
                "| CPU per answer at most 0.2 of Bolt for JavaScript's | {share:.2} | {} |",
                verdict(share <= 0.2)
            );
            let with_after = |wide: &Run, narrow: &Run| {
                cpu_per_request(wide, narrow) + cpu_after_load_per_request(wide, narrow)
            };
            let share = with_after(tp, tp4) / with_after(bolt, bolt4);
            println!(
                "| the same, with each one's CPU after the loads | {share:.2} | {} |",
                verdict(share <= 0.2)
            );
        }
        let share = 100.0 * tp.per_sec / floor.per_sec;
        println!(
            "| at least 17% of the floor's req/s at 64 connections | {share:.1}% | {} |",
            verdict(share >= 17.0)
        );
        let times = tp4.p99_ms / floor4.p99_ms;
        println!(
            "| p99 at 4 connections at most 2× the floor's | {times:.1}× | {} |",
            verdict(times <= 2.0)
        );
        let times = tp4.p99_ms / durable4.p99_ms;
        println!(
            "| (proposed) p99 at 4 connections at most 2× the durable floor's | {times:.1}× | {} |",
            verdict(times <= 2.0)
        );
        println!(
            "| p99 at 200 req/s under 5 ms | {:.2} ms | {} |",
            tp200.p99_ms,
            verdict(tp200.p99_ms < 5.0)
        );
        let mib = *tp_rss as f64 / 1024.0;
        println!(
            "| peak RSS under 50 MiB | {mib:.0} MiB | {} |",
            verdict(mib < 50.0)
        );
        if let Some(why) = disturbed::floor_disturbed(
            (floor4.p50_ms, floor4.p99_ms),
            (floor200.p50_ms, floor200.p99_ms),
        ) {
            println!();
            println!(
                "Caution: the machine was disturbed during the floor's runs ({why}), so the ratios to the floor and the goals set against it say little from this run: run it again"
            );
        }
    }
}

/// trustpulse's threads, an answer's share of each at 64 and at 4 connections and at 200
/// a second: where the CPU went, and the system calls and switches behind it
/// (`thread_counts.rs`). At 200 a second the answers' writer also moves the pulses answered
/// five seconds before (on SQLite; PostgreSQL's moves run on tokio's workers and the server),
/// which the loads at 64 and 4 connections, three seconds each, do not reach.
fn print_threads(wide: &Run, narrow: &Run, paced: &Run) {
    let runs = [wide, narrow, paced];
    let names: BTreeSet<&String> = runs.iter().flat_map(|run| run.threads.keys()).collect();
    println!();
    if names.is_empty() {
        // `/proc/PID/task/TID/io` needs the right to trace the process, which a container
        // may withhold.
        println!("trustpulse's threads could not be read from /proc/PID/task, so no table of them");
        return;
    }
    println!(
        "trustpulse's threads, an answer's share at 64 / at 4 connections / at 200 a second (from /proc: CPU time; time ready to run but waiting for a core; the read and write system calls that /proc counts, which leave out a socket's recvfrom; context switches):"
    );
    println!("| thread | CPU | waiting for a core | reads | writes | switches |");
    println!("|---|---|---|---|---|---|");
    for name in names {
        let each = runs.map(|run| {
            let (threads, counts) = run.threads.get(name).copied().unwrap_or_default();
            (threads, counts, run.requests.max(1) as f64)
        });
        // Threads that did next to nothing in every run (the main thread, the pool's
        // connections): less than a µs and a hundredth of a switch an answer.
        let idle = |&(_, c, n): &(usize, thread_counts::Counts, f64)| {
            c.cpu_secs * 1e6 / n < 1.0 && (c.switches as f64 / n) < 0.01
        };
        if each.iter().all(idle) {
            continue;
        }
        let count = each
            .iter()
            .map(|(threads, _, _)| *threads)
            .max()
            .unwrap_or(0);
        let label = if count > 1 {
            format!("{name} ×{count}")
        } else {
            name.clone()
        };
        let column = |value: fn(&thread_counts::Counts) -> f64, digits: usize| {
            each.iter()
                .map(|(_, c, n)| format!("{:.digits$}", value(c) / n))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        println!(
            "| {label} | {} µs | {} µs | {} | {} | {} |",
            column(|c| c.cpu_secs * 1e6, 0),
            column(|c| c.queued_ns as f64 / 1e3, 0),
            column(|c| c.reads as f64, 2),
            column(|c| c.writes as f64, 2),
            column(|c| c.switches as f64, 2),
        );
    }
}

/// CPU per request over the runs at 64 and at 4 connections (the table's column).
fn cpu_per_request(wide: &Run, narrow: &Run) -> f64 {
    (wide.cpu_us_per_request * wide.requests as f64
        + narrow.cpu_us_per_request * narrow.requests as f64)
        / (wide.requests + narrow.requests) as f64
}

/// CPU per request after those two runs, until the server was quiet again.
fn cpu_after_load_per_request(wide: &Run, narrow: &Run) -> f64 {
    (wide.after_cpu_us_per_request * wide.requests as f64
        + narrow.after_cpu_us_per_request * narrow.requests as f64)
        / (wide.requests + narrow.requests) as f64
}
