// A minimal Bolt for JavaScript app that takes a survey answer as trustpulse does, for the
// answer benchmark's same-run comparison (README, "Benchmarks"; `bench/peers.sh`).
//
// The work per request: Bolt verifies the signature and parses the payload; one SQLite
// transaction (better-sqlite3) writes a keyed participation hash (refused if already there) and
// an answer row, durably (WAL, synchronous=FULL); the handler acks with a modal update. One
// process, as in issue 12's table.
const crypto = require('node:crypto');
const { App } = require('@slack/bolt');
const Database = require('better-sqlite3');

const KEY = 'bench-window-key';
const THANKS = { type: 'modal', title: { type: 'plain_text', text: 'Thank you' } };

const db = new Database(process.env.PEER_DB);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE IF NOT EXISTS participation (token BLOB PRIMARY KEY)');
db.exec('CREATE TABLE IF NOT EXISTS answers (wave TEXT, care INT, help INT, trust INT, comment TEXT)');
const insertToken = db.prepare('INSERT INTO participation (token) VALUES (?)');
const insertAnswer = db.prepare(
  'INSERT INTO answers (wave, care, help, trust, comment) VALUES (?, ?, ?, ?, ?)',
);
const record = db.transaction((token, wave, scores, comment) => {
  insertToken.run(token);
  insertAnswer.run(wave, ...scores, comment);
});

const app = new App({
  signingSecret: process.env.SLACK_SIGNING_SECRET,
  // One made-up workspace, known without asking Slack (nothing here can reach it).
  authorize: async () => ({ botToken: 'xoxb-bench', botId: 'B0BENCH', botUserId: 'U0BENCHBOT' }),
  endpoints: '/slack/interactions',
});

app.view('pulse_answer', async ({ ack, body, view }) => {
  const user = body.user.id;
  const wave = JSON.parse(view.private_metadata).wave;
  const values = view.state.values;
  const scores = ['care', 'help', 'trust'].map((q) =>
    Number.parseInt(values[q].score.selected_option.value, 10),
  );
  const comment = values.comment.text.value ?? null;
  const token = crypto.createHmac('sha256', KEY).update(`${wave}\n${user}`).digest();
  try {
    record(token, wave, scores, comment);
  } catch (e) {
    if (e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      await ack({ response_action: 'errors', errors: { care: 'You have already answered.' } });
      return;
    }
    throw e;
  }
  await ack({ response_action: 'update', view: THANKS });
});

(async () => {
  await app.start(Number(process.env.PORT));
})();
