//! Any bytes as a Jetstream capture: the line reader numbers every line,
//! accounts for every byte, and routing either makes a message of a line,
//! byte for byte, or says why not.

#![no_main]

use ingest::lines::{Line, Lines, MAX_LINE_BYTES};
use ingest::routing::{Unrouted, route_jetstream};
use libfuzzer_sys::fuzz_target;

const SUBJECTS: [&str; 8] = [
    "event.create",
    "event.update",
    "event.delete",
    "rsvp.create",
    "rsvp.update",
    "rsvp.delete",
    "identity",
    "account",
];

fn check_routing(text: &str) {
    match route_jetstream(text, None) {
        Ok(routed) => {
            assert_eq!(routed.payload, text, "a routed line must be kept byte for byte");
            assert!(routed.payload.len() <= MAX_LINE_BYTES);
            assert!(SUBJECTS.contains(&routed.subject), "{}", routed.subject);
            assert!(routed.msg_id.starts_with("did:"), "{}", routed.msg_id);
            assert_eq!(routed.cursor, routed.time_us);
        }
        Err(Unrouted::Filtered(_)) => {}
        Err(Unrouted::Malformed(reason)) => assert!(!reason.is_empty()),
        Err(Unrouted::Oversized(dead)) => assert!(dead.payload.len() <= MAX_LINE_BYTES),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut lines = Lines::new(data);
    let mut expected = 0;
    while let Some(line) = futures::executor::block_on(lines.next_line()).expect("reading a slice") {
        expected += 1;
        assert_eq!(line.number(), expected, "lines are numbered one by one");
        match &line {
            Line::Text { text, .. } => {
                assert!(!text.contains('\n'));
                check_routing(text);
            }
            Line::Empty { .. } => {}
            Line::Undecodable { reason, bytes, .. } => {
                assert!(std::str::from_utf8(bytes).is_err() && !reason.is_empty());
                assert!(line.broken().is_some());
            }
            Line::Oversized { size, .. } => assert!(*size > MAX_LINE_BYTES as u64),
        }
    }
    assert_eq!(lines.bytes_read(), data.len() as u64, "every byte is read");
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let unterminated = u64::from(!data.is_empty() && !data.ends_with(b"\n"));
    assert_eq!(expected, newlines + unterminated, "one line per line ending");
});
