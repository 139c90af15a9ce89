//! A database of its own for each test, so tests run in parallel and twice
//! in a row against the one local PostgreSQL.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::postgres::PgEventStore;

/// The server tests create their databases on; override with
/// `OPENMEET_TEST_DATABASE_URL`.
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A freshly created, migrated database, dropped when this value is.
pub struct ScratchDatabase {
    name: String,
    admin: PgConnectOptions,
    options: PgConnectOptions,
}

impl ScratchDatabase {
    /// Creates and migrates `omsync_test_<random>`. Panics with the reason
    /// when the server is unreachable: a test cannot run without it.
    pub async fn create() -> Self {
        let admin_url = std::env::var("OPENMEET_TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.into());
        let admin = PgConnectOptions::from_str(&admin_url).unwrap_or_else(|err| {
            panic!("OPENMEET_TEST_DATABASE_URL {admin_url:?} is not a Postgres URL: {err}")
        });
        let name = format!("omsync_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin.connect().await.unwrap_or_else(|err| {
            panic!("cannot reach PostgreSQL at {admin_url} (run scripts/setup.sh): {err}")
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|err| panic!("cannot create database {name}: {err}"));
        conn.close().await.ok();
        let options = admin.clone().database(&name);
        let scratch = Self {
            name,
            admin,
            options,
        };
        scratch
            .store(2)
            .await
            .migrate()
            .await
            .unwrap_or_else(|err| panic!("cannot migrate {}: {err}", scratch.name));
        scratch
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connection options for this database.
    pub fn options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    /// A connection URL for this database.
    pub fn url(&self) -> String {
        self.options.to_url_lossy().to_string()
    }

    /// A new pool of up to `max_connections` on this database.
    pub async fn pool(&self, max_connections: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max_connections)
            .connect_with(self.options())
            .await
            .unwrap_or_else(|err| panic!("cannot connect to {}: {err}", self.name))
    }

    /// An event store on a new pool of this database.
    pub async fn store(&self, max_connections: u32) -> PgEventStore {
        PgEventStore::new(self.pool(max_connections).await)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop runs outside any async context we can await in; a thread with
        // its own runtime works whether or not a runtime is running here.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = admin.connect().await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("warning: could not drop scratch database {}", self.name);
        }
    }
}
