//! Persistence: the connection pool, embedded migrations and the generated schema.

mod cached;
pub mod fault;
pub mod schema;

pub use cached::cached;

use anyhow::{Context, Result};
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// The migrations compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A pool of synchronous diesel connections (used through `spawn_blocking`).
pub type DbPool = Pool<Manager>;

/// A pooled connection that remembers whether it lost its server.
pub struct Conn {
    /// The diesel connection.
    pub pg: PgConnection,
    lost: bool,
}

impl Conn {
    /// Notes `err`: a connection that lost its server is dropped instead of reused.
    pub fn observe(&mut self, err: &diesel::result::Error) {
        use diesel::result::{DatabaseErrorKind, Error};
        if matches!(
            err,
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _)
        ) {
            self.lost = true;
        }
    }
}

/// r2d2 manager for [`Conn`]. It skips r2d2's `SELECT 1` before every checkout (a round trip
/// per request) and instead discards connections whose queries found the server gone.
#[derive(Debug)]
pub struct Manager(ConnectionManager<PgConnection>);

impl diesel::r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        let mut pg = self.0.connect()?;
        // Every query here is a short keyed lookup or write, written to plan well generically.
        // Left to itself PostgreSQL re-plans the receipt write on every call (its custom plans
        // look cheaper than the generic one), costing more than executing it, and its JIT would
        // compile that plan (its estimate crosses jit_above_cost) for hundreds of ms.
        diesel::connection::SimpleConnection::batch_execute(
            &mut pg,
            "SET jit = off; SET plan_cache_mode = force_generic_plan",
        )
        .map_err(diesel::r2d2::Error::QueryError)?;
        Ok(Conn { pg, lost: false })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        self.0.is_valid(&mut conn.pg)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.lost || self.0.has_broken(&mut conn.pg)
    }
}

/// Builds the pool; fails fast when the database cannot be reached. `wait` bounds how long a
/// checkout waits for a connection (the pool's own connects included) before giving up.
pub fn pool(url: &str, size: u32, wait: std::time::Duration) -> Result<DbPool> {
    Pool::builder()
        .max_size(size)
        // r2d2 would otherwise run `SELECT 1` before every checkout: a round trip per request.
        // Broken connections are still detected (diesel reports them) and replaced.
        .test_on_check_out(false)
        .connection_timeout(wait.max(std::time::Duration::from_millis(1)))
        .build(Manager(ConnectionManager::new(url)))
        .context("connecting to the database")
}

/// Runs `f` in one transaction, retrying serialization failures and deadlocks a few times.
pub fn transaction<T>(
    conn: &mut PgConnection,
    f: impl Fn(&mut PgConnection) -> crate::error::ApiResult<T>,
) -> crate::error::ApiResult<T> {
    let mut tries = 0;
    loop {
        match conn.transaction(|c| f(c)) {
            Err(e) if e.is_retryable_conflict() && tries < 5 => tries += 1,
            other => return other,
        }
    }
}

/// Applies pending migrations; returns how many ran.
pub fn migrate(url: &str) -> Result<usize> {
    let mut conn = PgConnection::establish(url).with_context(|| "connecting to the database to migrate")?;
    let done = conn.run_pending_migrations(MIGRATIONS).map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(done.len())
}

/// Whether all migrations are applied (readiness check).
pub fn migrations_applied(conn: &mut PgConnection) -> Result<bool> {
    let pending = conn.has_pending_migration(MIGRATIONS).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(!pending)
}

/// Creates database `name` through the maintenance database at `admin_url` if it is missing.
pub fn create_database_if_missing(admin_url: &str, name: &str, template: Option<&str>) -> Result<()> {
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let mut conn = PgConnection::establish(admin_url).context("connecting to the maintenance database")?;
    let row: Exists = diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
        .bind::<Text, _>(name)
        .get_result(&mut conn)?;
    if !row.exists {
        let tpl = template.map(|t| format!(" TEMPLATE \"{t}\"")).unwrap_or_default();
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"{tpl}")).execute(&mut conn)?;
    }
    Ok(())
}
