//! `openmeet-sync migrate`.

use std::process::ExitCode;

use anyhow::Context;
use store::PgEventStore;

/// Creates the database when missing and applies pending migrations.
pub async fn run(database_url: &str) -> anyhow::Result<ExitCode> {
    PgEventStore::create_database_if_missing(database_url)
        .await
        .with_context(|| {
            format!(
                "cannot create the database at {}",
                super::redact(database_url)
            )
        })?;
    let store = super::connect(database_url).await?;
    store.migrate().await.context("migration failed")?;
    let applied = store::postgres::MIGRATOR.iter().count();
    tracing::info!(migrations = applied, "database is up to date");
    Ok(ExitCode::SUCCESS)
}
