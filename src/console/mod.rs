//! The operator console at `/console`: server-rendered HTML pages (maud) with a little
//! JavaScript for live regions, signed in as an App admin. Handlers stay thin: they call the
//! same domain and webhook functions as the REST commands.

mod charts;
mod error;
pub mod history;
mod layout;
mod pages;
pub mod session;
mod time;

use actix_web::web;

pub use error::ConsoleError;

use crate::settings::Settings;

/// What the overview shows about this process's configuration (never a secret).
#[derive(Debug, Clone, Default)]
pub struct ConsoleInfo {
    /// (setting, value) pairs, in display order.
    pub summary: Vec<(&'static str, String)>,
    /// The dispatcher's retry scale (breaker periods are scaled by it).
    pub retry_scale: f64,
}

impl ConsoleInfo {
    /// The summary of `settings`; `database` describes where the data lives.
    pub fn new(settings: &Settings, admins: &[String], database: &str) -> ConsoleInfo {
        let onoff = |b: bool| if b { "on" } else { "off" }.to_string();
        let rate = |n: u32| if n == 0 { "off".to_string() } else { format!("{n}/s") };
        let days = |n: u32, unit: &str| if n == 0 { "forever".to_string() } else { format!("{n} {unit}") };
        let w = &settings.webhooks;
        let r = &settings.retention;
        let summary = vec![
            ("Listen address", settings.listen.to_string()),
            ("Database", database.to_string()),
            ("Pool size", format!("{} connections, {} ms wait", settings.pool_size, settings.pool_wait_ms)),
            ("Workers", settings.workers.map_or_else(|| "one per core".to_string(), |n| n.to_string())),
            ("App admins", admins.join(", ")),
            ("Webhook dispatcher", onoff(w.dispatch)),
            (
                "Webhook targets",
                format!("loopback {}, private networks {}", onoff(w.allow_loopback), onoff(w.allow_private)),
            ),
            ("Webhook deliveries in flight", w.max_in_flight.to_string()),
            ("Webhook retry scale", w.retry_scale.to_string()),
            (
                "Rate limits",
                format!(
                    "user {}, admin {}, app {}",
                    rate(settings.rate_limits.user_per_sec),
                    rate(settings.rate_limits.admin_per_sec),
                    rate(settings.rate_limits.app_per_sec)
                ),
            ),
            (
                "Retention",
                if r.enabled {
                    format!(
                        "notifications {}, webhook deliveries {}, messages {}",
                        days(r.notification_hours, "h"),
                        days(r.webhook_days, "days"),
                        days(r.message_days, "days")
                    )
                } else {
                    "worker off in this process".to_string()
                },
            ),
            ("Send dedup windows", format!("C2C {} s, group {} s", settings.c2c_dedup_secs, settings.group_dedup_secs)),
            ("Client IP header", settings.client_ip_header.clone().unwrap_or_else(|| "none (TCP peer)".into())),
        ];
        ConsoleInfo { summary, retry_scale: w.retry_scale }
    }
}

/// A database URL without its password (and user), for display.
pub fn describe_database_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("local socket");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("PostgreSQL at {host}{port}{}", u.path())
        }
        Err(_) => "PostgreSQL (DATABASE_URL)".to_string(),
    }
}

/// Declares the console's routes once: the router registers them and [`ROUTES`] lists them
/// (the OpenAPI test reads it to know what it excludes).
macro_rules! console_routes {
    ($( $method:ident $path:literal => $handler:path ),* $(,)?) => {
        /// Every console route as (method, path pattern).
        pub static ROUTES: &[(&str, &str)] = &[ $( (stringify!($method), $path) ),* ];

        /// Registers every console route.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $( cfg.route($path, web::$method().to($handler)); )*
        }
    };
}

console_routes! {
    get "/console" => pages::overview::page,
    get "/console/overview/live" => pages::overview::live,
    get "/console/assets/{name}" => pages::assets::asset,
    get "/console/sign-in" => pages::signin::form_page,
    post "/console/sign-in" => pages::signin::submit,
    post "/console/sign-out" => pages::signin::sign_out,
    get "/console/settings" => pages::settings::page,
    post "/console/settings" => pages::settings::save,
    get "/console/audit" => pages::settings::audit,
    get "/console/webhooks" => pages::webhooks::list,
    post "/console/webhooks" => pages::webhooks::create,
    get "/console/webhooks/{id}" => pages::webhooks::detail,
    post "/console/webhooks/{id}" => pages::webhooks::update,
    post "/console/webhooks/{id}/enabled" => pages::webhooks::set_enabled,
    post "/console/webhooks/{id}/delete" => pages::webhooks::delete,
    post "/console/webhooks/{id}/reveal" => pages::webhooks::reveal,
    post "/console/webhooks/{id}/rotate" => pages::webhooks::rotate,
    post "/console/webhooks/{id}/test" => pages::webhooks::test_event,
    post "/console/webhooks/{id}/replay" => pages::webhooks::replay_since,
    get "/console/deliveries" => pages::deliveries::log,
    get "/console/deliveries/{id}" => pages::deliveries::detail,
    get "/console/deliveries/{id}/attempts" => pages::deliveries::attempts_live,
    post "/console/deliveries/{id}/replay" => pages::deliveries::replay,
    get "/console/inspect" => pages::inspect::index,
    get "/console/inspect/group" => pages::inspect::group,
    get "/console/inspect/group/live" => pages::inspect::group_live_fragment,
    get "/console/inspect/c2c" => pages::inspect::c2c,
    get "/console/inspect/c2c/live" => pages::inspect::c2c_live_fragment,
}
