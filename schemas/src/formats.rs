//! The string formats lexicons declare, checked as the reference validator
//! (`@atproto/lexicon` with `@atproto/syntax`) checks them.

use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

fn regex(pattern: &str) -> Regex {
    // The patterns are literals of this module, covered by its tests.
    Regex::new(pattern).expect("valid format pattern")
}

/// The reference accepts ISO 8601 date-times in extended or basic form, with
/// or without an offset (but not `-00:00`), and does not check the calendar
/// beyond field ranges: `2026-02-30T18:00:00Z` passes.
static DATETIME: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^\d{4}(?:-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-4]):([0-5]\d):([0-5]\d|60)|(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])T([01]\d|2[0-4])([0-5]\d)([0-5]\d|60))(\.\d+)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?$",
    )
});

static URI: LazyLock<Regex> = LazyLock::new(|| regex(r"^\w+:(?://)?[^\s/]\S*$"));

static DID: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$"));

static HANDLE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$",
    )
});

static NSID: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+\.[a-zA-Z][a-zA-Z0-9]{0,62}$",
    )
});

static RECORD_KEY: LazyLock<Regex> = LazyLock::new(|| regex(r"^[a-zA-Z0-9_~.:-]{1,512}$"));

/// 13 characters of sortable base32; the first keeps the top bit zero.
static TID: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$"));

/// An ATProto datetime, as leniently as the reference accepts it.
pub fn is_datetime(value: &str) -> bool {
    DATETIME.is_match(value) && !value.ends_with("-00:00") && !value.ends_with("-0000")
}

/// A URI: a scheme, then something that is not whitespace.
pub fn is_uri(value: &str) -> bool {
    URI.is_match(value)
}

/// A DID such as `did:plc:abc` or `did:web:example.org`.
pub fn is_did(value: &str) -> bool {
    value.len() <= 2048 && DID.is_match(value)
}

/// A handle such as `alice.bsky.social`.
pub fn is_handle(value: &str) -> bool {
    value.len() <= 253 && HANDLE.is_match(value)
}

/// A namespaced identifier such as `community.lexicon.calendar.event`.
pub fn is_nsid(value: &str) -> bool {
    value.len() <= 317 && NSID.is_match(value)
}

/// A record key: any of the allowed characters, not `.` or `..`.
pub fn is_record_key(value: &str) -> bool {
    value != "." && value != ".." && RECORD_KEY.is_match(value)
}

/// A timestamp identifier, such as a repository revision `3mptbypluud2a`.
pub fn is_tid(value: &str) -> bool {
    TID.is_match(value)
}

/// An AT-URI: `at://` then a DID or handle, optionally a collection NSID,
/// optionally a record key, and nothing after that.
pub fn is_at_uri(value: &str) -> bool {
    let Some(rest) = value.strip_prefix("at://") else {
        return false;
    };
    if value.len() > 8192 {
        return false;
    }
    let mut parts = rest.split('/');
    let authority = parts.next().unwrap_or_default();
    if !(is_did(authority) || is_handle(authority)) {
        return false;
    }
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => true,
        (Some(collection), None, _) => is_nsid(collection),
        (Some(collection), Some(rkey), None) => is_nsid(collection) && is_record_key(rkey),
        _ => false,
    }
}

/// A content identifier in its string form.
pub fn is_cid(value: &str) -> bool {
    cid::Cid::from_str(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_as_lenient_as_the_reference_and_no_more() {
        for valid in [
            "2026-12-01T18:00:00Z",
            "2026-12-01T18:00:00",
            "2026-12-01T18:00:00.123456789+01:00",
            "2026-02-30T18:00:00Z",
            "20261201T180000Z",
            "2026-12-01T18:00:00+0100",
            "2026-12-01T24:00:00Z",
        ] {
            assert!(is_datetime(valid), "{valid}");
        }
        for invalid in [
            "2026-12-01 18:00",
            "2026-12-01T18:00Z",
            "2026-12-01",
            "2026-12-01T18:00:00-00:00",
            "2026-13-01T18:00:00Z",
            "2026-12-01T18:00:00z",
            "2026-12-01T18:00:00.Z",
            "tomorrow",
        ] {
            assert!(!is_datetime(invalid), "{invalid}");
        }
    }

    #[test]
    fn at_uris_name_an_authority_then_optionally_a_collection_and_a_key() {
        assert!(is_at_uri(
            "at://did:plc:abc/community.lexicon.calendar.event/3k"
        ));
        assert!(is_at_uri("at://did:plc:abc"));
        assert!(is_at_uri("at://alice.test/app.x.y/k"));
        assert!(is_at_uri(
            "at://did:plc:cbkjy5n7bk3ax2wplmtjofq2/community.lexicon.calendar.rsvp/7T68ZD4HPRWHQ"
        ));
        assert!(!is_at_uri("at://did:plc:abc/notnsid/k"));
        assert!(!is_at_uri("https://x"));
        assert!(!is_at_uri("at://did:plc:abc/a.b.c/k/extra"));
    }

    #[test]
    fn tids_are_thirteen_sortable_base32_characters_with_the_top_bit_clear() {
        assert!(is_tid("3mptbypluud2a"));
        assert!(is_tid("2222222222222"));
        assert!(!is_tid("3mabc2aaaa2a"));
        assert!(!is_tid("kmptbypluud2a"));
        assert!(!is_tid("3MPTBYPLUUD2A"));
        assert!(!is_tid("3mptbypluud2a1"));
    }

    #[test]
    fn uris_need_a_scheme_and_no_whitespace() {
        assert!(is_uri("https://example.org"));
        assert!(is_uri("mailto:a@b"));
        assert!(!is_uri("https://x.y/a b"));
        assert!(!is_uri("foo"));
        assert!(!is_uri("ftp://"));
    }

    #[test]
    fn cids_parse_as_multiformats() {
        assert!(is_cid(
            "bafyreieis7y4we4bkg26lsispbedzo5rn7gbx3bf2bxkpw6hvg726kktee"
        ));
        assert!(!is_cid("not-a-cid"));
        assert!(!is_cid("bafyreisamplerust0v1"));
    }
}
