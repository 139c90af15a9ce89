//! Any bytes as one firehose WebSocket message: the frame and CAR decoder
//! reads it or says why not, and every message it routes is a Jetstream
//! line that routes again to the same message.

#![no_main]

use ingest::firehose::{Frame, decode_frame};
use ingest::routing::route_jetstream;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let frame = match decode_frame(data) {
        Ok(frame) => frame,
        Err(err) => {
            assert!(err.0.len() > "header: ".len(), "an error says what broke: {err}");
            return;
        }
    };
    if let Frame::Messages { seq, routed, dead, .. } = frame {
        for message in routed {
            assert_eq!(message.cursor, seq, "a frame's messages carry its seq");
            let again = route_jetstream(&message.payload, Some(seq))
                .unwrap_or_else(|err| panic!("{} does not route again: {err}", message.payload));
            assert_eq!(again, message);
        }
        for letter in dead {
            assert!(!letter.reason.is_empty(), "a dead letter says why");
        }
    }
});
