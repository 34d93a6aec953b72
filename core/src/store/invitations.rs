//! Making invitations: the device draws a secret code, keeps it for the inviter to pass on, and records
//! only its hash in the replica (and so on the server). Whoever has the code can join, once per use.

use super::error::{Result, StoreError};
use super::{Applied, Store, new_id};
use crate::domain::hash_code;
use crate::domain::mutation::InvitationCreate;

/// Crockford's base 32: no I, L, O or U, so a code read aloud or copied by hand survives.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new invitation, with the code to give to the newcomer. The code is shown once and never stored.
#[derive(Clone, Debug, PartialEq)]
pub struct NewInvitation {
    pub applied: Applied,
    pub invitation_id: String,
    /// Sixteen characters in four groups (`K7QX-2M9D-HT4R-B8WZ`): 80 random bits.
    pub code: String,
}

/// Draws a fresh invitation code: 80 bits (ten bytes) from the operating system's random source, as
/// sixteen letters of five bits each.
pub fn draw_code() -> Result<String> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes[6..])
        .map_err(|e| StoreError::Io { context: "drawing an invitation code", detail: e.to_string() })?;
    let mut bits = u128::from_be_bytes(bytes);
    let mut code = String::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[(bits & 31) as usize]));
        bits >>= 5;
    }
    Ok(code)
}

impl Store {
    /// Invites newcomers to a neighbourhood: `max_uses` people may join with the code until
    /// `valid_for_ms` from now.
    pub fn invite(&self, neighbourhood_id: &str, max_uses: u32, valid_for_ms: i64) -> Result<NewInvitation> {
        let code = draw_code()?;
        let invitation_id = new_id();
        let applied = self.mutate(
            neighbourhood_id,
            InvitationCreate {
                id: invitation_id.clone(),
                code_hash: hash_code(&code),
                expires_at: self.now_ms().saturating_add(valid_for_ms),
                max_uses,
            },
        )?;
        Ok(NewInvitation { applied, invitation_id, code })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::normalise_code;

    #[test]
    fn codes_are_readable_and_distinct() {
        let a = draw_code().unwrap();
        let b = draw_code().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 19);
        assert!(a.chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))), "{a}");
        assert_eq!(normalise_code(&a.to_lowercase().replace('-', " ")), a);
    }

    /// Every one of the sixteen letters carries five random bits: over many codes each position takes
    /// all 32 values (a code cut from a UUID would have fixed bits at its version and variant).
    #[test]
    fn every_letter_of_a_code_is_random() {
        let mut seen = [[false; 32]; 16];
        for _ in 0..2_000 {
            let code = draw_code().unwrap().replace('-', "");
            for (i, c) in code.bytes().enumerate() {
                let value = ALPHABET.iter().position(|a| *a == c).unwrap();
                seen[i][value] = true;
            }
        }
        for (i, values) in seen.iter().enumerate() {
            assert!(values.iter().all(|v| *v), "letter {i} never took some values: {values:?}");
        }
    }
}
