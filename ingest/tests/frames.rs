//! Frame decoding on the bundled capture of the real PDS
//! (`samples/pds-capture.frames`, recorded by `scripts/capture-sample.sh`).

use ingest::capture::read_frame;
use ingest::firehose::{Frame, decode_frame};

fn frames() -> Vec<Vec<u8>> {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/pds-capture.frames"
    ))
    .unwrap();
    let mut input = &bytes[..];
    std::iter::from_fn(|| read_frame(&mut input).unwrap()).collect()
}

fn first_event_create() -> Vec<u8> {
    frames()
        .into_iter()
        .find(|frame| {
            matches!(decode_frame(frame), Ok(Frame::Messages { routed, .. })
                if routed.iter().any(|r| r.subject == "event.create"))
        })
        .expect("the capture creates events")
}

#[test]
fn every_frame_of_the_capture_decodes_and_matches_its_jetstream_form() {
    let jetstream: Vec<serde_json::Value> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/pds-capture.jsonl"
    ))
    .unwrap()
    .lines()
    .map(|line| serde_json::from_str(line).unwrap())
    .collect();
    let mut decoded = vec![];
    for frame in frames() {
        match decode_frame(&frame).unwrap() {
            Frame::Messages { routed, dead, .. } => {
                assert!(dead.is_empty(), "{dead:?}");
                decoded.extend(
                    routed
                        .iter()
                        .map(|r| serde_json::from_str::<serde_json::Value>(&r.payload).unwrap()),
                );
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
    // The reference implementation's decoding (tests/pds/capture.mjs) and
    // ours agree on every message, records and CIDs included.
    assert_eq!(decoded.len(), jetstream.len());
    for (ours, theirs) in decoded.iter().zip(&jetstream) {
        assert_eq!(ours, theirs);
    }
}

#[test]
fn a_record_whose_bytes_do_not_match_its_cid_is_a_dead_letter() {
    let mut frame = first_event_create();
    let name = b"Rust Meetup";
    let at = frame
        .windows(name.len())
        .position(|window| window == name)
        .expect("the record is in the frame's CAR");
    frame[at] = b'D';
    match decode_frame(&frame).unwrap() {
        Frame::Messages { routed, dead, .. } => {
            assert!(routed.is_empty());
            assert_eq!(dead.len(), 1);
            assert!(
                dead[0]
                    .reason
                    .contains("record bytes do not match their CID"),
                "{}",
                dead[0].reason
            );
        }
        other => panic!("unexpected frame {other:?}"),
    }
}

#[test]
fn a_truncated_frame_is_an_error_not_a_panic() {
    let frame = first_event_create();
    for cut in [0, 1, 10, frame.len() / 2, frame.len() - 1] {
        assert!(decode_frame(&frame[..cut]).is_err(), "cut at {cut}");
    }
}
