//! Participation tokens: "this person has answered in this window", without naming the person.
//!
//! A token is HMAC-SHA256 of the person's Slack id under a random key that belongs to one
//! window. A plain hash would not do: Slack ids can be listed with `users.list`, so anyone could
//! hash them all and match. The key is deleted when the window is released, after which no one,
//! the operator included, can tell whose token is whose.
//!
//! Until then the key is in the database, so the database alone would tell whose token is
//! whose: who has answered an open pulse and, since a commit writes a token and its ballot
//! together, what the last few answered (the SQLite WAL keeps the latest commits). So where a
//! token secret is set (`TRUSTPULSE_TOKEN_SECRET`, kept outside the database), the stored key
//! is mixed with it before it makes tokens ([`TokenSecrets::window_key`]): the files alone then
//! cannot name anyone, and deleting the stored key at release still unlinks every token.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Domain separation, so a token can never be confused with another HMAC under the same key.
const CONTEXT: &[u8] = b"trustpulse/participation/v1\0";

/// The random per-window key. Its bytes never leave the store and are never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct WindowKey([u8; 32]);

impl WindowKey {
    /// A fresh key from the operating system's CSPRNG (through rand's thread RNG).
    pub fn generate() -> WindowKey {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        WindowKey(bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<WindowKey> {
        bytes.try_into().ok().map(WindowKey)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The token of `person` in this key's window.
    pub fn token_for(&self, person: &str) -> ParticipationToken {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(CONTEXT);
        mac.update(person.as_bytes());
        ParticipationToken(mac.finalize().into_bytes().into())
    }
}

impl std::fmt::Debug for WindowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WindowKey(<secret>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParticipationToken([u8; 32]);

impl ParticipationToken {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The shortest token secret accepted: 32 characters (`openssl rand -hex 32` gives 64).
pub const MIN_SECRET_CHARS: usize = 32;

const MIX_CONTEXT: &[u8] = b"trustpulse/token-secret/v1\0";
const ID_CONTEXT: &[u8] = b"trustpulse/token-secret-id/v1\0";

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// A token secret: the operator's, from outside the database. Never stored, never printed; the
/// database keeps only its [`id`](TokenSecret::id), with each window made under it.
#[derive(Clone)]
pub struct TokenSecret {
    key: [u8; 32],
    id: String,
}

impl TokenSecret {
    /// A secret from its text, or why it is refused (too short to be a secret).
    pub fn new(text: &str) -> Result<TokenSecret, String> {
        let chars = text.chars().count();
        if chars < MIN_SECRET_CHARS {
            return Err(format!(
                "is {chars} characters long; a token secret needs at least {MIN_SECRET_CHARS} (make one with `openssl rand -hex 32`)"
            ));
        }
        let id = hmac(text.as_bytes(), &[ID_CONTEXT]);
        Ok(TokenSecret {
            key: hmac(text.as_bytes(), &[MIX_CONTEXT]),
            id: hex::encode(&id[..8]),
        })
    }

    /// Names the secret in the database: 16 hex digits from a keyed hash of it, from which the
    /// secret cannot be worked out.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn mix(&self, stored: &WindowKey) -> WindowKey {
        WindowKey(hmac(&self.key, &[&stored.0]))
    }
}

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSecret({}: <secret>)", self.id)
    }
}

/// The token secrets this process knows: the first makes the keys of new windows; the others
/// (after a rotation) still serve the windows made under them until those are released. None
/// (the default): the stored keys make the tokens, as before there were secrets.
#[derive(Debug, Clone, Default)]
pub struct TokenSecrets(Vec<TokenSecret>);

/// A window's key that cannot make tokens here. Logged by its kind only ("internal error")
/// when a seller meets it: a line naming the secret, one per seller refused, would say which
/// teams (those under that secret) were answering when. `serve` names it once, at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowKeyError {
    #[error("a stored window key has the wrong length")]
    Malformed,
    #[error(
        "this pulse's window was made under token secret {0}, which TRUSTPULSE_TOKEN_SECRET no longer lists"
    )]
    UnknownSecret(String),
}

impl TokenSecrets {
    pub fn new(secrets: Vec<TokenSecret>) -> TokenSecrets {
        TokenSecrets(secrets)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The id to store with a new window's key: the first secret's, if any.
    pub fn current_id(&self) -> Option<&str> {
        self.0.first().map(TokenSecret::id)
    }

    /// Whether a window stored with `secret_id` can make its tokens here.
    pub fn knows(&self, secret_id: Option<&str>) -> bool {
        secret_id.is_none_or(|id| self.0.iter().any(|s| s.id == id))
    }

    /// The key that makes a window's tokens, from what the database holds of it: the stored
    /// key, mixed with the secret it was made under (none: the stored key itself).
    pub fn window_key(
        &self,
        stored: &[u8],
        secret_id: Option<&str>,
    ) -> Result<WindowKey, WindowKeyError> {
        let stored = WindowKey::from_bytes(stored).ok_or(WindowKeyError::Malformed)?;
        let Some(id) = secret_id else {
            return Ok(stored);
        };
        self.0
            .iter()
            .find(|s| s.id == id)
            .map(|secret| secret.mix(&stored))
            .ok_or_else(|| WindowKeyError::UnknownSecret(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn the_same_person_gets_the_same_token_within_a_window() {
        let key = WindowKey::generate();
        assert_eq!(key.token_for("U0SELLER1"), key.token_for("U0SELLER1"));
        assert_ne!(key.token_for("U0SELLER1"), key.token_for("U0SELLER2"));
    }

    #[test]
    fn a_key_is_never_printed() {
        assert_eq!(
            format!("{:?}", WindowKey::generate()),
            "WindowKey(<secret>)"
        );
    }

    const SECRET_A: &str = "a-made-up-token-secret-for-tests-0001";
    const SECRET_B: &str = "a-made-up-token-secret-for-tests-0002";

    fn secrets(texts: &[&str]) -> TokenSecrets {
        TokenSecrets::new(texts.iter().map(|t| TokenSecret::new(t).unwrap()).collect())
    }

    /// What someone with the database alone can compute (the stored key's tokens) is not what a
    /// secret makes, and the same secret makes the same tokens in every process.
    #[test]
    fn a_secret_makes_tokens_the_stored_key_alone_cannot() {
        let stored = WindowKey::generate();
        let one = secrets(&[SECRET_A]);
        let id = one.current_id().map(str::to_owned);
        let key = one.window_key(stored.as_bytes(), id.as_deref()).unwrap();
        assert_ne!(key.token_for("U0SELLER1"), stored.token_for("U0SELLER1"));
        let again = secrets(&[SECRET_A]);
        let same = again.window_key(stored.as_bytes(), id.as_deref()).unwrap();
        assert_eq!(same.token_for("U0SELLER1"), key.token_for("U0SELLER1"));
        // A window made without a secret keeps the stored key's tokens.
        let plain = one.window_key(stored.as_bytes(), None).unwrap();
        assert_eq!(plain.token_for("U0SELLER1"), stored.token_for("U0SELLER1"));
    }

    /// After a rotation (new first, old after it), windows made under the old secret keep their
    /// tokens, new windows use the new one, and a secret no longer listed is named, not guessed.
    #[test]
    fn a_rotation_keeps_the_old_windows_tokens() {
        let stored = WindowKey::generate();
        let before = secrets(&[SECRET_A]);
        let old_id = before.current_id().unwrap().to_owned();
        let old = before.window_key(stored.as_bytes(), Some(&old_id)).unwrap();
        let rotated = secrets(&[SECRET_B, SECRET_A]);
        assert_ne!(rotated.current_id(), Some(old_id.as_str()));
        let after = rotated
            .window_key(stored.as_bytes(), Some(&old_id))
            .unwrap();
        assert_eq!(after.token_for("U0SELLER1"), old.token_for("U0SELLER1"));
        assert!(rotated.knows(Some(&old_id)) && rotated.knows(None));
        let dropped = secrets(&[SECRET_B]);
        assert!(!dropped.knows(Some(&old_id)));
        assert_eq!(
            dropped.window_key(stored.as_bytes(), Some(&old_id)),
            Err(WindowKeyError::UnknownSecret(old_id))
        );
    }

    #[test]
    fn a_short_secret_is_refused_and_a_secret_is_never_printed() {
        let refused = TokenSecret::new("short").unwrap_err();
        assert!(refused.contains("at least 32"), "{refused}");
        let secret = TokenSecret::new(SECRET_A).unwrap();
        let printed = format!("{secret:?} {:?}", secrets(&[SECRET_A]));
        assert!(!printed.contains(SECRET_A), "{printed}");
        assert_eq!(secret.id().len(), 16);
        assert!(!SECRET_A.contains(secret.id()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn tokens_differ_across_windows_for_one_person(person in "[UW][A-Z0-9]{2,12}") {
            let (a, b) = (WindowKey::generate(), WindowKey::generate());
            prop_assert_ne!(a.token_for(&person), b.token_for(&person));
        }

        #[test]
        fn no_two_people_share_a_token_in_one_window(
            people in proptest::collection::hash_set("[UW][A-Z0-9]{2,12}", 1..64)
        ) {
            let key = WindowKey::generate();
            let tokens: HashSet<_> = people.iter().map(|p| key.token_for(p)).collect();
            prop_assert_eq!(tokens.len(), people.len());
        }
    }
}
