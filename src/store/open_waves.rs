//! On PostgreSQL, the waves the answers' writers have read open, kept while answers keep
//! coming, so that a batch whose waves are all known is one round trip: its write alone
//! (`submission_batch::record_sql`), not a read and then the write. Here: the read of the
//! waves not known yet ([`OpenWaves::facts`]), with their invitees, and what is kept.
//!
//! Why: at 64 connections the server's cores stood a third idle (`perf record -a`, the
//! fifty-sixth session): a batch's pace was its round trips and its commit, not the CPU. A
//! burst of answers (a large org's first hour) comes to the same open waves again and again.
//!
//! What may be kept: everything an open wave says to a submission but its state never changes
//! (its window, closing time, key, follow-through item and invitees: no statement updates
//! them), and the write checks the state itself, under the wave's lock. A wave a write finds
//! closed is forgotten; so is every wave at the writers' quiet moment, once no answer has
//! come for a second and the open pulses' answers have been moved (`submission_writer.rs`).
//!
//! Privacy: the window keys and the invitees stay in this process's memory for the length of
//! a burst of answers and a second after it, where each batch held its own for its own
//! length. They were in the database meanwhile anyway (until release), and this process holds
//! the token secret that makes the keys; none is written anywhere. The statements no longer
//! name anyone: the read asks for waves, where it asked for pairs of wave and person, and
//! the invitees are kept as keyed hashes ([`invitee_hash`]), never written anywhere either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use sqlx::AnyConnection;

use super::Backend;
use super::script::{Value, bind};
use super::submission_batch::{Facts, WaveFacts, padded, pairs, wave_facts};
use super::submission_writer::Submission;
use crate::privacy::token::TokenSecrets;

/// A row of [`waves_sql`]: the wave, its state, window, closing time, the window's key (if
/// unreleased), since when it asks the follow-through item, the key's token secret, and its
/// invitees if it is open ([`invitee_list`]).
type WaveRow = (
    String,
    String,
    String,
    i64,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// PostgreSQL's read of the waves of a batch that its writers do not know yet: each wave's
/// facts, as `submission_batch::facts_sql` reads them, and every invitee of those open, so
/// that the next batches to the same waves are checked without reading anything. Padded as
/// the write is ([`padded`], [`null_waves`]). A wave that does not exist gives no row.
///
/// A wave's invitees come in one value of its row ([`invitee_list`]): as a row each, the
/// answer benchmark's teams of 200 made a batch's first read 6,000 rows or more, and its
/// answers the slowest of the run (a p99 at 4 connections of 5 to 16 ms against 2 to 3).
///
/// It names no person: a log of its statements (the README, on `log_parameter_max_length`)
/// would not say who was answering, where the pairs of wave and person of
/// `submission_batch::facts_sql` would.
fn waves_sql(rows: usize) -> String {
    format!(
        "SELECT w.wave_id, w.state, w.window_id, w.closes_at, k.hmac_key, w.follow_through_since,
                k.secret_id,
                CASE WHEN w.state = 'open' THEN
                    (SELECT string_agg(octet_length(i.person_id) || ':' || i.person_id, '')
                     FROM wave_invitees i WHERE i.wave_id = w.wave_id)
                END
         FROM (VALUES {}) AS v
         JOIN waves w ON w.wave_id = v.column1
         LEFT JOIN window_keys k ON k.window_id = w.window_id",
        Backend::Postgres.value_rows(rows, 1)
    )
}

/// The people in a list of [`waves_sql`]: each as its length in bytes, `:` and itself, one
/// after the other, so that no person id, whatever it holds, can be read as two. A list that
/// breaks off (it cannot, from that statement) gives the people before the break: those after
/// it are refused, not let in.
fn invitee_list(list: &str) -> impl Iterator<Item = &str> {
    let mut rest = list;
    std::iter::from_fn(move || {
        let (len, tail) = rest.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let person = tail.get(..len)?;
        rest = &tail[len..];
        Some(person)
    })
}

/// An open wave as a writer knows it (`open_waves.rs`): what it says to a submission, and
/// whom it invited, each as a keyed hash of the person ([`invitee_hash`]), sorted.
struct KnownWave {
    facts: WaveFacts,
    invitees: Vec<u64>,
}

/// A person as [`KnownWave`] keeps an invitee: 8 bytes, not a `String` of 40 or so with its
/// allocation. With the 150,000 invitees of the answer benchmark's pulses kept as strings,
/// the process peaked at 32 to 34 MiB, against 22 to 23 without them; as hashes, 25 to 26.
/// The hash is SipHash under a key drawn at random when the process starts, so no one can
/// choose a person id that collides with an invitee's; by chance, one of 10^17 or so
/// outsiders of a team of 200 would.
fn invitee_hash(person: &str) -> u64 {
    use std::hash::BuildHasher;
    static KEY: std::sync::LazyLock<std::hash::RandomState> =
        std::sync::LazyLock::new(std::hash::RandomState::new);
    KEY.hash_one(person)
}

impl KnownWave {
    fn invites(&self, person: &str) -> bool {
        self.invitees.binary_search(&invitee_hash(person)).is_ok()
    }

    /// How many people it invited: what keeping it costs.
    fn people(&self) -> usize {
        self.invitees.len()
    }
}

/// The waves in the rows [`waves_sql`] returned.
fn waves_read(rows: Vec<WaveRow>, secrets: &TokenSecrets) -> HashMap<String, KnownWave> {
    rows.into_iter()
        .map(
            |(wave_id, state, window_id, closes_at, key, since, secret, list)| {
                let facts = wave_facts(state, window_id, closes_at, key, since, secret, secrets);
                let mut invitees: Vec<u64> = list
                    .as_deref()
                    .map(|list| invitee_list(list).map(invitee_hash).collect())
                    .unwrap_or_default();
                invitees.sort_unstable();
                (wave_id, KnownWave { facts, invitees })
            },
        )
        .collect()
}

/// What the read of a batch would say (`submission_batch::facts`), from the waves its
/// writers know.
fn known_facts<'b>(batch: &[&'b Submission], known: &HashMap<String, Arc<KnownWave>>) -> Facts<'b> {
    let invited = pairs(batch)
        .into_iter()
        .filter(|(wave, person)| known.get(*wave).is_some_and(|k| k.invites(person)))
        .collect();
    let waves = known
        .iter()
        .map(|(wave, k)| (wave.clone(), k.facts.clone()))
        .collect();
    Facts { waves, invited }
}

/// `rows` rows of [`waves_sql`]'s values that match no wave: [`padded`]'s rows.
fn null_waves<'b>(rows: usize) -> impl Iterator<Item = Value<'b>> {
    (0..rows).map(|_| Value::OptText(None))
}

/// The most people kept, over every wave: past it the writers start again from nothing. An
/// invitee is 8 bytes ([`invitee_hash`]), so 8 MB at most, and an org with more invitees
/// than this answering at once reads some of its waves again.
const MOST_PEOPLE: usize = 1_000_000;

/// The waves read open, shared by the writers of one store.
#[derive(Clone)]
pub(super) struct OpenWaves(Arc<Mutex<Known>>);

struct Known {
    waves: HashMap<String, Arc<KnownWave>>,
    /// Their invitees, counted: what they cost.
    people: usize,
    /// [`MOST_PEOPLE`], or fewer in a test.
    most_people: usize,
}

impl Default for OpenWaves {
    fn default() -> OpenWaves {
        OpenWaves::keeping_at_most(MOST_PEOPLE)
    }
}

impl OpenWaves {
    /// On PostgreSQL, what the read of `batch` would say: from the waves known open already,
    /// and those not known, read now ([`waves_sql`]) on its own, the open ones kept for the
    /// next batches. Nothing is read when every wave is known.
    pub(super) async fn facts<'b>(
        &self,
        conn: &mut AnyConnection,
        secrets: &TokenSecrets,
        batch: &[&'b Submission],
    ) -> anyhow::Result<Facts<'b>> {
        let (mut known, unknown) = self.split(batch.iter().map(|s| s.wave_id.as_str()));
        if !unknown.is_empty() {
            let rows = padded(unknown.len());
            let values = unknown
                .iter()
                .map(|&wave| Value::Text(wave))
                .chain(null_waves(rows - unknown.len()))
                .collect();
            let query = sqlx::query_as::<_, WaveRow>(sqlx::AssertSqlSafe(waves_sql(rows)));
            let rows = bind(query, values)
                .fetch_all(conn)
                .await
                .context("could not read the waves")?;
            let read: HashMap<String, Arc<KnownWave>> = waves_read(rows, secrets)
                .into_iter()
                .map(|(wave, k)| (wave, Arc::new(k)))
                .collect();
            self.remember(read.iter());
            known.extend(read);
        }
        Ok(known_facts(batch, &known))
    }

    fn keeping_at_most(most_people: usize) -> OpenWaves {
        OpenWaves(Arc::new(Mutex::new(Known {
            waves: HashMap::new(),
            people: 0,
            most_people,
        })))
    }

    /// Those of `waves` known open, and those to read (sorted, each once).
    fn split<'w>(
        &self,
        waves: impl Iterator<Item = &'w str>,
    ) -> (HashMap<String, Arc<KnownWave>>, Vec<&'w str>) {
        let known = self.lock();
        let mut found: HashMap<String, Arc<KnownWave>> = HashMap::new();
        let mut unknown: Vec<&str> = Vec::new();
        for wave in waves {
            if found.contains_key(wave) {
                continue;
            }
            match known.waves.get(wave) {
                Some(facts) => {
                    found.insert(wave.to_owned(), facts.clone());
                }
                None => unknown.push(wave),
            }
        }
        unknown.sort_unstable();
        unknown.dedup();
        (found, unknown)
    }

    /// Keeps those of `read` that a later batch may take as they are
    /// ([`WaveFacts::reusable`]).
    fn remember<'k>(&self, read: impl Iterator<Item = (&'k String, &'k Arc<KnownWave>)>) {
        let mut known = self.lock();
        for (wave, facts) in read.filter(|(_, k)| k.facts.reusable()) {
            if known.people + facts.people() > known.most_people {
                known.waves.clear();
                known.people = 0;
            }
            known.people += facts.people();
            if let Some(old) = known.waves.insert(wave.clone(), facts.clone()) {
                known.people -= old.people();
            }
        }
    }

    /// Forgets `waves`: a write found them closed.
    pub(super) fn forget<'w>(&self, waves: impl Iterator<Item = &'w str>) {
        let mut known = self.lock();
        for wave in waves {
            if let Some(old) = known.waves.remove(wave) {
                known.people -= old.people();
            }
        }
    }

    /// Forgets every wave: the writers are quiet.
    pub(super) fn clear(&self) {
        let mut known = self.lock();
        known.waves.clear();
        known.people = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        // Its count is set right after each change, with nothing that can panic between:
        // take it as it is.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::token::WindowKey;

    /// `wave` as a read returns it: `state`, a key or none (released), and `people` invitees.
    fn read(wave: &str, state: &str, key: bool, people: usize) -> HashMap<String, Arc<KnownWave>> {
        let key = key.then(|| WindowKey::generate().as_bytes().to_vec());
        let list: String = (0..people)
            .map(|i| format!("U0SELLER{i}"))
            .map(|p| format!("{}:{p}", p.len()))
            .collect();
        let row: WaveRow = (
            wave.into(),
            state.into(),
            "WIN".into(),
            1_800_000_000,
            key,
            None,
            None,
            (state == "open").then_some(list),
        );
        waves_read(vec![row], &TokenSecrets::default())
            .into_iter()
            .map(|(wave, known)| (wave, Arc::new(known)))
            .collect()
    }

    fn remember(waves: &OpenWaves, read: &[HashMap<String, Arc<KnownWave>>]) {
        waves.remember(read.iter().flatten());
    }

    #[test]
    fn an_invitee_list_reads_back_any_person_id_and_stops_where_it_breaks() {
        let people = ["U0SELLER1", "a:b", "12:", "", "é"];
        let list: String = people.iter().map(|p| format!("{}:{p}", p.len())).collect();
        assert_eq!(invitee_list(&list).collect::<Vec<_>>(), people);
        assert_eq!(
            invitee_list("9:U0SELLER13:U0").collect::<Vec<_>>(),
            ["U0SELLER1"]
        );
        assert_eq!(invitee_list("x:U0SELLER1").count(), 0);
        assert_eq!(invitee_list("2:é").count(), 1, "a length in bytes");
        assert_eq!(invitee_list("1:é").count(), 0, "not in characters");
    }

    #[test]
    fn a_read_of_n_waves_binds_n_values() {
        assert_eq!(waves_sql(4).matches('$').count(), 4);
        assert_eq!(null_waves(3).count(), 3);
    }

    #[test]
    fn only_open_waves_with_a_key_are_kept_and_a_batch_reads_the_rest_once() {
        let waves = OpenWaves::default();
        let read = [
            read("W1", "open", true, 3),
            read("W2", "closed", true, 3),
            read("W3", "open", false, 3),
        ];
        remember(&waves, &read);
        let (known, unknown) = waves.split(["W3", "W1", "W2", "W1", "W3"].into_iter());
        assert_eq!(known.keys().collect::<Vec<_>>(), ["W1"]);
        assert_eq!(unknown, ["W2", "W3"]);
        let w1 = &known["W1"];
        assert!(w1.invites("U0SELLER2") && !w1.invites("U0SELLER3"));
    }

    #[test]
    fn a_wave_found_closed_is_forgotten_and_so_is_every_wave_when_quiet() {
        let waves = OpenWaves::default();
        remember(
            &waves,
            &[read("W1", "open", true, 2), read("W2", "open", true, 2)],
        );
        waves.forget(["W1"].into_iter());
        assert_eq!(waves.split(["W1", "W2"].into_iter()).1, ["W1"]);
        assert_eq!(waves.lock().people, 2);
        waves.clear();
        assert_eq!(waves.split(["W2"].into_iter()).1, ["W2"]);
        assert_eq!(waves.lock().people, 0);
    }

    #[test]
    fn past_the_most_people_it_starts_again_from_nothing() {
        let waves = OpenWaves::keeping_at_most(10);
        remember(
            &waves,
            &[read("W1", "open", true, 5), read("W2", "open", true, 5)],
        );
        assert_eq!(waves.lock().people, 10, "at the most, both kept");
        remember(&waves, &[read("W3", "open", true, 1)]);
        assert_eq!(waves.split(["W1", "W2", "W3"].into_iter()).1, ["W1", "W2"]);
        assert_eq!(waves.lock().people, 1);
    }
}
