//! The `imreceipts` binary: server, UserSig generator and migrator.

use anyhow::Result;
use clap::Parser;
use imreceipts::embedded_pg::{EmbeddedPg, PgOptions};
use imreceipts::settings::{Cli, Command, Settings};
use imreceipts::{db, identity, usersig, Application};

/// The database to use: DATABASE_URL, or an embedded cluster under the data directory.
fn database(settings: &Settings) -> Result<(String, Option<EmbeddedPg>)> {
    if let Some(url) = &settings.database_url {
        return Ok((url.clone(), None));
    }
    let pg = EmbeddedPg::start(&settings.data_dir, &PgOptions::default())?;
    db::create_database_if_missing(&pg.url("postgres"), "imreceipts", None)?;
    Ok((pg.url("imreceipts"), Some(pg)))
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    let settings = cli.settings;
    let ident = identity::load_or_create(&settings)?;
    match cli.command {
        Some(Command::Usersig { identifier, expire }) => {
            let now = chrono::Utc::now().timestamp();
            println!("{}", usersig::generate(&ident.secret_key, ident.sdkappid, &identifier, now, expire));
            Ok(())
        }
        Some(Command::Migrate) => {
            let (url, pg) = database(&settings)?;
            let n = db::migrate(&url)?;
            println!("applied {n} migration(s)");
            if let Some(pg) = pg {
                pg.stop();
            }
            Ok(())
        }
        None => serve(settings, ident),
    }
}

fn serve(settings: Settings, ident: imreceipts::state::AppIdentity) -> Result<()> {
    let (url, pg) = database(&settings)?;
    let result = actix_web::rt::System::new().block_on(async {
        let admin = ident.admins[0].clone();
        let now = chrono::Utc::now().timestamp();
        let sig = usersig::generate(&ident.secret_key, ident.sdkappid, &admin, now, 180 * 86400);
        let sdkappid = ident.sdkappid;
        let app = Application::build(&settings, ident, &url)?;
        let base = format!("http://{}:{}", settings.listen.ip(), app.port());
        let q = format!("sdkappid={sdkappid}&identifier={admin}&usersig={sig}&random=1&contenttype=json");
        // The banner is the one place that talks to a person on stdout.
        println!(
            "\nimreceipts is listening on {base}\n  console:    {base}/console (sign in as {admin} with the UserSig below)\n  database:   {}\n  SDKAppID:   {sdkappid}\n  admin:      {admin}\n  UserSig:    {sig}\n\nTry:\n  curl -s '{base}/v4/im_open_login_svc/account_import?{q}' -d '{{\"UserID\":\"alice\"}}'\n",
            if pg.is_some() { "embedded PostgreSQL (./var)" } else { "DATABASE_URL" }
        );
        app.run_until_stopped().await
    });
    if let Some(pg) = pg {
        pg.stop();
    }
    result
}
