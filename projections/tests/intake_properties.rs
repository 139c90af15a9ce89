//! Property: whatever a message holds, intake, the occurrence decider and
//! the occurrences read model take it without panicking, and every row
//! they produce can be stored (no NUL in any text, none escaped in the
//! JSON kept). A message is applied, rejected with a reason, or ignored
//! with one: never nothing.

use proptest::prelude::*;
use serde_json::json;

#[path = "support/intake_pipeline.rs"]
mod intake_pipeline;

fn through_the_read_model(raw: &str) -> Result<(), TestCaseError> {
    intake_pipeline::through_the_read_model(raw).map_err(TestCaseError::fail)
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9.:]{0,12}",
        any::<String>(),
        "[\u{0}\u{1}\\\\\"a/]{0,6}",
        Just("did:plc:abc".to_owned()),
        Just("3mptbypluud2a".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_are_accounted_for(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        through_the_read_model(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn arbitrary_values_in_every_field_are_accounted_for(
        did in any_text(),
        time_us in any::<i64>(),
        rkey in any_text(),
        rev in any_text(),
        name in any_text(),
        description in any_text(),
        place in any_text(),
        key in any_text(),
        valid_cid in any::<bool>(),
    ) {
        let cid = if valid_cid { "bafyreigyny66xrsw4dsmltdguv4lcehcopbtlwopkssza2vdwltugb6s54".to_owned() } else { rev.clone() };
        let mut record = json!({
            "$type": "community.lexicon.calendar.event",
            "name": name,
            "description": description,
            "createdAt": "2026-11-01T10:00:00Z",
            "locations": [{"$type": "community.lexicon.location.address", "country": "DE", "name": place}],
        });
        record[key] = json!(1);
        let message = json!({"did": did, "time_us": time_us, "kind": "commit", "commit": {
            "rev": rev, "operation": "create", "collection": "community.lexicon.calendar.event",
            "rkey": rkey, "record": record, "cid": cid}});
        through_the_read_model(&message.to_string())?;
    }
}
