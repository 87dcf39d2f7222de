//! Participation tokens: "this person has answered in this window", without naming the person.
//!
//! A token is HMAC-SHA256 of the person's Slack id under a random key that belongs to one
//! window. A plain hash would not do: Slack ids can be listed with `users.list`, so anyone could
//! hash them all and match. The key is deleted when the window is released, after which no one,
//! the operator included, can tell whose token is whose.

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
