//! Event names as a series sees them: "Rust Meetup #12", "Rust meetup –
//! December" and "Rust Meetup (online)" are one name once numbering,
//! dates and asides are taken out.

/// Words that date or number an occurrence rather than name a series.
const DATING_WORDS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "no",
    "nr",
    "edition",
    "vol",
    "episode",
    "ep",
    "part",
];

/// The name a series' occurrences share: lower case, without asides in
/// brackets, without what follows a dash, colon or bar, without numbers
/// and dating words.
pub fn series_name(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut kept = String::with_capacity(lower.len());
    let mut depth = 0usize;
    for c in lower.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            _ => kept.push(c),
        }
    }
    let head = kept
        .split([':', '|', '–', '—'])
        .next()
        .unwrap_or_default()
        .split(" - ")
        .next()
        .unwrap_or_default();
    head.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .filter(|word| !word.chars().any(|c| c.is_ascii_digit()))
        .filter(|word| !DATING_WORDS.contains(word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How alike two names are as series names, from 0 to 1.
pub fn name_similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (series_name(a), series_name(b));
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    strsim::sorensen_dice(&a, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_dates_and_asides_are_not_part_of_the_name() {
        for name in [
            "Rust Meetup #12",
            "Rust meetup – December",
            "Rust Meetup (online)",
            "rust meetup no. 7",
            "Rust Meetup: async edition",
            "Rust Meetup 2026-12-01",
        ] {
            assert_eq!(series_name(name), "rust meetup", "{name}");
        }
    }

    #[test]
    fn different_series_are_not_alike() {
        assert_eq!(
            name_similarity("Rust Meetup #3", "Rust meetup (online)"),
            1.0
        );
        assert!(name_similarity("Rust Meetup", "Book club") < 0.3);
        assert!(name_similarity("Python Meetup", "Rust Meetup") < 0.8);
    }
}
