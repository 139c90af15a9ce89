//! Record keys of the records we publish: TIDs (timestamp identifiers),
//! chosen before the write and kept in the intent event, so that a retried
//! write goes to the same key and never makes a second record.
//!
//! A TID is 64 bits, the top one zero: 53 bits of microseconds since the
//! Unix epoch and a 10-bit clock id, written as 13 characters of the
//! sortable base32 alphabet `234567abcdefghijklmnopqrstuvwxyz`. Here the
//! time is the intent's own (from the log) and the clock id derives from
//! what is published, so replaying the log chooses the same keys.

use sha2::{Digest, Sha256};

use crate::time::Timestamp;

const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The TID of `micros` (since the epoch) and `clock_id` (its low 10 bits).
pub fn tid(micros: u64, clock_id: u16) -> String {
    let value = ((micros & ((1 << 53) - 1)) << 10) | u64::from(clock_id & 0x3ff);
    (0..13)
        .rev()
        .map(|n| ALPHABET[((value >> (n * 5)) & 31) as usize] as char)
        .collect()
}

/// The record key for publishing `subject` (such as an occurrence id) at
/// `at`: the same inputs give the same key.
pub fn record_key(at: Timestamp, subject: &str) -> String {
    let digest = Sha256::digest(subject.as_bytes());
    let clock_id = u16::from_be_bytes([digest[0], digest[1]]);
    tid(at.as_unix_micros().max(0) as u64, clock_id)
}

/// The microseconds of a TID, when `key` is one.
pub fn tid_micros(key: &str) -> Option<u64> {
    if key.len() != 13 {
        return None;
    }
    let mut value: u64 = 0;
    for byte in key.bytes() {
        let digit = ALPHABET.iter().position(|&c| c == byte)? as u64;
        value = (value << 5) | digit;
    }
    (value >> 63 == 0).then_some(value >> 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_known_instant_has_the_known_tid() {
        // 2023-01-01T00:00:00Z, clock id 0: the first character of a TID
        // of our era is a digit-like letter and the key is 13 long.
        let key = tid(1_672_531_200_000_000, 0);
        assert_eq!(key.len(), 13);
        assert_eq!(tid_micros(&key), Some(1_672_531_200_000_000));
        assert!(key.starts_with('3'), "{key}");
    }

    proptest! {
        #[test]
        fn tids_sort_as_their_instants_and_read_back(a in 0u64..(1 << 53), b in 0u64..(1 << 53), clock in 0u16..1024) {
            let (ka, kb) = (tid(a, clock), tid(b, clock));
            prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
            prop_assert_eq!(tid_micros(&ka), Some(a));
        }

        #[test]
        fn the_same_intent_chooses_the_same_key(micros in 0i64..(1 << 52), subject in "[a-z0-9-]{1,40}") {
            let at = Timestamp::from_unix_micros(micros);
            prop_assert_eq!(record_key(at, &subject), record_key(at, &subject));
        }
    }
}
