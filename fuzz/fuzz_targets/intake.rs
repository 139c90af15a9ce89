//! Any bytes as a firehose message: intake, the occurrence decider and the
//! occurrences read model take them without panicking, account for them,
//! and produce only rows a database stores.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../projections/tests/support/intake_pipeline.rs"]
mod intake_pipeline;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = intake_pipeline::through_the_read_model(&String::from_utf8_lossy(data)) {
        panic!("{broken}");
    }
});
