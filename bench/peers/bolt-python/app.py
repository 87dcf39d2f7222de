"""A minimal Bolt for Python app that takes a survey answer as trustpulse does, for the answer
benchmark's same-run comparison (README, "Benchmarks"; `bench/peers.sh`).

The work per request: Bolt verifies the signature and parses the payload; one SQLite
transaction writes a keyed participation hash (refused if already there) and an answer row,
durably (WAL, synchronous=FULL); the handler acks with a modal update. Served by uvicorn with
one worker: with two (issue 12's table had two), their SQLite connections took turns at the
write lock, and the one waiting slept in SQLite's busy handler (44 ms at the p50 with 4
connections, and fewer answers a second than one worker).
"""

import hashlib
import hmac
import json
import os
import sqlite3

from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

KEY = b"bench-window-key"
THANKS = {"type": "modal", "title": {"type": "plain_text", "text": "Thank you"}}


def connect(path):
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


async def authorize(enterprise_id, team_id, **_):
    # One made-up workspace, known without asking Slack (nothing here can reach it).
    return AuthorizeResult(
        enterprise_id=enterprise_id,
        team_id=team_id,
        bot_token="xoxb-bench",
        bot_id="B0BENCH",
        bot_user_id="U0BENCHBOT",
    )


db = connect(os.environ["PEER_DB"])
db.execute("CREATE TABLE IF NOT EXISTS participation (token BLOB PRIMARY KEY)")
db.execute("CREATE TABLE IF NOT EXISTS answers (wave TEXT, care INT, help INT, trust INT, comment TEXT)")
# The handler does all its work before it acks, so Bolt runs it to the end before answering:
# otherwise Bolt runs it as a task and polls for the ack every 10 ms (the p50 at 4 connections
# was 11.5 ms with one worker).
app = AsyncApp(
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    authorize=authorize,
    process_before_response=True,
)


@app.view("pulse_answer")
async def answer(ack, body, view):
    user = body["user"]["id"]
    wave = json.loads(view["private_metadata"])["wave"]
    values = view["state"]["values"]
    scores = [int(values[q]["score"]["selected_option"]["value"]) for q in ("care", "help", "trust")]
    comment = values["comment"]["text"].get("value")
    token = hmac.new(KEY, f"{wave}\n{user}".encode(), hashlib.sha256).digest()
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO participation (token) VALUES (?)", (token,))
        db.execute(
            "INSERT INTO answers (wave, care, help, trust, comment) VALUES (?, ?, ?, ?, ?)",
            (wave, *scores, comment),
        )
        db.execute("COMMIT")
    except sqlite3.IntegrityError:
        db.execute("ROLLBACK")
        await ack(response_action="errors", errors={"care": "You have already answered."})
        return
    await ack(response_action="update", view=THANKS)


api = AsyncSlackRequestHandler(app, path="/slack/interactions")
