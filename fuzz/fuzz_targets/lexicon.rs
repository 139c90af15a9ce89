//! Any JSON as a record of each of our lexicons: the validator answers,
//! the same way twice, and a record it accepts fits its Rust type.

#![no_main]

use libfuzzer_sys::fuzz_target;
use schemas::Lexicons;
use schemas::records::{EVENT_NSID, EventRecord, RSVP_NSID, Record, RsvpRecord};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let lexicons = Lexicons::ours();
    for nsid in Lexicons::nsids() {
        let verdict = lexicons.validate_record(nsid, &value);
        assert_eq!(
            verdict.as_ref().err().map(ToString::to_string),
            lexicons.validate_record(nsid, &value).err().map(|e| e.to_string()),
            "the validator answers the same twice"
        );
        if let Err(invalid) = &verdict {
            assert!(!invalid.to_string().is_empty());
            continue;
        }
        if nsid == EVENT_NSID {
            EventRecord::from_json(&value)
                .unwrap_or_else(|err| panic!("a valid event does not fit its type: {err}"));
        }
        if nsid == RSVP_NSID {
            RsvpRecord::from_json(&value)
                .unwrap_or_else(|err| panic!("a valid RSVP does not fit its type: {err}"));
        }
    }
});
