//! URL names of events and series: readable, stable across rebuilds, and
//! unique per id.

use uuid::Uuid;

/// The name in lowercase ASCII words (at most about 60 characters), then
/// the first 8 hex digits of the id.
pub fn slug(name: &str, id: Uuid) -> String {
    let mut words = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            words.push(c);
        } else if !words.ends_with('-') && !words.is_empty() {
            words.push('-');
        }
        if words.len() >= 60 {
            break;
        }
    }
    let words = words.trim_end_matches('-');
    let suffix = &id.simple().to_string()[..8];
    if words.is_empty() {
        format!("event-{suffix}")
    } else {
        format!("{words}-{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::slug;
    use uuid::Uuid;

    #[test]
    fn slugs_are_readable_stable_and_unique_per_id() {
        let id = Uuid::from_u128(0xabcdef12_0000_0000_0000_000000000000);
        assert_eq!(
            slug("Rust Meetup #12 (online)", id),
            "rust-meetup-12-online-abcdef12"
        );
        assert_eq!(slug("Ünïcødé 🎉", id), "n-c-d-abcdef12");
        assert_eq!(slug("🎉", id), "event-abcdef12");
    }
}
