//! Receipt settings (the console's toggles over `receipt_svc/set_receipt_config`) and the
//! audit log.

use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use crate::console::layout::{self, csrf};
use crate::console::session::{Posted, Session};
use crate::console::{time, ConsoleError};
use crate::domain::audit::{self, Entry, Via};
use crate::domain::config::{self, ConfigUpdate, ReceiptConfig};
use crate::state::AppState;

/// Group types as the console lists them: (type, alias, why not supported).
const TYPES: [(&str, &str, Option<&str>); 5] = [
    ("Private", "Work", None),
    ("Public", "", None),
    ("ChatRoom", "Meeting", None),
    (
        "AVChatRoom",
        "",
        Some("Not supported: live-broadcast groups keep no member list, so there is no set of readers to count."),
    ),
    (
        "Community",
        "",
        Some("Not supported: community groups are organised in topics, and receipts are counted per group, not per topic."),
    ),
];

fn settings_form(s: &Session, cfg: &ReceiptConfig) -> Markup {
    let on = |t: &str| cfg.group_types.iter().any(|g| g == t);
    html! {
        form.stack #settings method="post" action="/console/settings" {
            (csrf(s))
            fieldset {
                legend { "Group message read receipts, by group type" }
                @for (t, alias, unsupported) in TYPES {
                    @let id = format!("type-{t}");
                    @match unsupported {
                        None => label.check for=(id) {
                            input id=(id) type="checkbox" name="types" value=(t) checked[on(t)];
                            span { strong { (t) } @if !alias.is_empty() { " (" (alias) ")" } }
                        },
                        Some(why) => label.check for=(id) {
                            input id=(id) type="checkbox" disabled aria-describedby={ (id) "-why" };
                            span { strong { (t) } " " span.hint id={ (id) "-why" } { (why) } }
                        },
                    }
                }
            }
            fieldset {
                legend { "Who may request read receipts when sending a group message" }
                label.check for="roles-any" {
                    input #roles-any type="radio" name="roles" value="Any" checked[cfg.request_roles == "Any"];
                    "Any member"
                }
                label.check for="roles-owner" {
                    input #roles-owner type="radio" name="roles" value="OwnerAndAdmin" checked[cfg.request_roles == "OwnerAndAdmin"];
                    "Only the owner and admins"
                }
            }
            div {
                label for="max-members" { "Largest group with read receipts" span.hint { "Members; messages in larger groups cannot request receipts (1 to 1,000,000)." } }
                input #max-members type="number" name="max_members" min="1" max="1000000" required value=(cfg.max_group_members);
            }
            div { button #save type="submit" { "Save settings" } }
        }
    }
}

/// The rows of an audit table.
pub fn audit_rows(entries: &[Entry]) -> Markup {
    html! {
        @for e in entries {
            tr {
                td { (time::show(e.at)) }
                td { (e.actor) " " span.badge { (e.via) } }
                td { (e.action) }
                td { (e.target) }
                td { code { (e.old_value.as_deref().unwrap_or("-")) } " → " code { (e.new_value.as_deref().unwrap_or("-")) } }
            }
        }
        @if entries.is_empty() { tr { td colspan="5" { "No changes recorded yet." } } }
    }
}

const AUDIT_HEAD: [&str; 5] = ["When", "Who", "Action", "What", "Old → new"];

/// `GET /console/settings`.
pub async fn page(state: web::Data<AppState>, s: Session) -> Result<HttpResponse, ConsoleError> {
    let (cfg, (recent, _)) =
        state.db(|c| Ok((config::load(c)?, audit::list(c, Some("receipt_config."), None, 20)?))).await?;
    let body = html! {
        p { "These are the settings of " code { "receipt_svc/get_receipt_config" } " and " code { "set_receipt_config" } ". A receipt in a group whose type is switched off is refused with ErrorCode 19001." }
        (settings_form(&s, &cfg))
        h2 { "Recent changes" }
        (layout::table("Receipt setting changes, newest first", &AUDIT_HEAD, audit_rows(&recent)))
        p { a href="/console/audit" { "The whole audit log" } }
    };
    Ok(layout::page(&state, &s, "/console/settings", "Receipt settings", body).await)
}

/// `POST /console/settings`.
pub async fn save(state: web::Data<AppState>, form: Posted) -> Result<HttpResponse, ConsoleError> {
    let f = &form.fields;
    let roles = f.get("roles");
    let update = ConfigUpdate {
        group_types: Some(f.all("types")),
        request_roles: (!roles.is_empty()).then(|| roles.to_string()),
        max_group_members: f.int("max_members", "The largest group with read receipts", 1..=1_000_000)?,
        ..Default::default()
    };
    let who = form.session.identifier.clone();
    let outcome = state.tx(move |c| config::update_audited(c, update.clone(), &who, Via::Console)).await;
    let (error, text) = match outcome {
        Ok((_, changes)) if changes.is_empty() => (false, "Saved: nothing changed.".to_string()),
        Ok((_, changes)) => {
            let parts: Vec<String> = changes.iter().map(|c| format!("{}: {} → {}", c.field, c.old, c.new)).collect();
            (false, format!("Saved. {}.", parts.join("; ")))
        }
        // A refused value is the operator's to fix: shown on the form, nothing saved.
        Err(e @ crate::error::ApiError::InvalidParam(_)) => (true, format!("Not saved: {e}")),
        Err(e) => return Err(e.into()),
    };
    form.session.set_flash(&state, error, text).await?;
    Ok(layout::see_other("/console/settings"))
}

/// Query of the audit log.
#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
}

/// `GET /console/audit`.
pub async fn audit(
    state: web::Data<AppState>,
    s: Session,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let before = q.before;
    let (entries, more) = state.db(move |c| audit::list(c, None, before, 100)).await?;
    let body = html! {
        p { "Every change to the receipt settings and to webhook endpoints, from the console or the REST API." }
        (layout::table("Changes, newest first", &AUDIT_HEAD, audit_rows(&entries)))
        @if more {
            @if let Some(last) = entries.last() {
                nav.pager aria-label="Audit log pages" { a href={ "/console/audit?before=" (last.id) } { "Older changes" } }
            }
        }
    };
    Ok(layout::page(&state, &s, "/console/audit", "Audit log", body).await)
}
