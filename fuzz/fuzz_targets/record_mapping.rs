//! Any JSON as an event record: mapping it into the domain names the field
//! that does not fit, or gives details that, written back over the record,
//! read back the same, and stay valid when the record was.

#![no_main]

use domain::occurrence::EventDetails;
use libfuzzer_sys::fuzz_target;
use schemas::Lexicons;
use schemas::records::{EVENT_NSID, EventRecord, Record};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(record) = EventRecord::from_json(&value) else {
        return;
    };
    let details = match EventDetails::from_record(&record) {
        Ok(details) => details,
        Err(err) => {
            assert!(!err.to_string().is_empty());
            return;
        }
    };
    let lexicons = Lexicons::ours();
    for written in [details.to_record(None), details.to_record(Some(&record))] {
        let again = EventDetails::from_record(&written)
            .unwrap_or_else(|err| panic!("{} does not read back: {err}", written.to_json()));
        assert_eq!(again, details, "{}", written.to_json());
    }
    if lexicons.validate_record(EVENT_NSID, &value).is_ok() {
        for written in [details.to_record(None), details.to_record(Some(&record))] {
            let written = written.to_json();
            if let Err(err) = lexicons.validate_record(EVENT_NSID, &written) {
                panic!("a valid record written back is invalid: {err}: {written}");
            }
        }
    }
});
