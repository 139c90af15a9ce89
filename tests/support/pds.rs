//! The test PDS (`tests/pds`, the reference `@atproto/pds` with its own
//! in-memory PLC directory) on a free port, stopped on drop, and the few
//! XRPC calls tests make on it as a user would.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A running test PDS.
pub struct Pds {
    child: Child,
    /// Its XRPC base URL.
    pub url: String,
    /// Its PLC directory.
    #[allow(dead_code)]
    pub plc: String,
    /// The secret it signs session tokens with (HS256), so tests can mint
    /// one that has expired.
    #[allow(dead_code)]
    pub jwt_secret: String,
}

/// An account created on the PDS.
#[allow(dead_code)]
pub struct Account {
    pub did: String,
    pub handle: String,
    pub password: String,
    pub access_jwt: String,
}

impl Pds {
    pub fn start() -> Pds {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let jwt_secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let mut child = Command::new("bash")
            .arg(format!("{ROOT}/tests/pds/start.sh"))
            .env("PDS_PORT", port.to_string())
            .env("PDS_JWT_SECRET", &jwt_secret)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let ready = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("READY ").map(str::to_owned))
            .expect("the test PDS did not start; run scripts/setup.sh to install it");
        let ready: Value = serde_json::from_str(&ready).unwrap();
        Pds {
            child,
            url: format!("http://127.0.0.1:{port}"),
            plc: ready["plc"].as_str().unwrap().to_owned(),
            jwt_secret,
        }
    }

    /// Creates an account `{name}{random}.test` with `password` (common
    /// names alone are reserved handles).
    #[allow(dead_code)]
    pub async fn create_account(&self, name: &str, password: &str) -> Account {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let handle = format!("{name}{}.test", &suffix[..6]);
        let name = &handle[..handle.len() - ".test".len()];
        let created: Value = reqwest::Client::new()
            .post(format!("{}/xrpc/com.atproto.server.createAccount", self.url))
            .json(&json!({"handle": handle, "email": format!("{name}@example.test"), "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Account {
            did: created["did"]
                .as_str()
                .unwrap_or_else(|| panic!("{created}"))
                .to_owned(),
            handle,
            password: password.to_owned(),
            access_jwt: created["accessJwt"].as_str().unwrap().to_owned(),
        }
    }

    /// An access token for `did` that expired an hour ago, signed as the PDS
    /// signs its own.
    #[allow(dead_code)]
    pub fn expired_access_token(&self, did: &str) -> String {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use hmac::{Hmac, Mac};
        let now = chrono::Utc::now().timestamp();
        let part = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let unsigned = format!(
            "{}.{}",
            part(json!({"typ": "at+jwt", "alg": "HS256"})),
            part(
                json!({"scope": "com.atproto.access", "aud": "did:web:localhost", "sub": did,
                "iat": now - 7200, "exp": now - 3600})
            )
        );
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(self.jwt_secret.as_bytes()).unwrap();
        mac.update(unsigned.as_bytes());
        format!(
            "{unsigned}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// Writes `record` to `account`'s repository under `collection/rkey`;
    /// returns the PDS's answer (`uri`, `cid`).
    #[allow(dead_code)]
    pub async fn put_record(
        &self,
        account: &Account,
        collection: &str,
        rkey: &str,
        record: Value,
    ) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}/xrpc/com.atproto.repo.putRecord", self.url))
            .bearer_auth(&account.access_jwt)
            .json(&json!({"repo": account.did, "collection": collection, "rkey": rkey, "record": record}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        response.json().await.unwrap()
    }

    /// Deletes `account`'s record `collection/rkey`.
    #[allow(dead_code)]
    pub async fn delete_record(&self, account: &Account, collection: &str, rkey: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/xrpc/com.atproto.repo.deleteRecord", self.url))
            .bearer_auth(&account.access_jwt)
            .json(&json!({"repo": account.did, "collection": collection, "rkey": rkey}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// The records of `collection` in `did`'s repository.
    #[allow(dead_code)]
    pub async fn list_records(&self, did: &str, collection: &str) -> Vec<Value> {
        let listed: Value = reqwest::Client::new()
            .get(format!(
                "{}/xrpc/com.atproto.repo.listRecords?repo={did}&collection={collection}",
                self.url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listed["records"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Pds {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
