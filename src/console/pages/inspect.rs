//! The message inspector: one group message's counts and reader lists (live), and a C2C
//! conversation's messages with IsPeerRead and read times (live).

use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use crate::console::layout;
use crate::console::session::Session;
use crate::console::{time, ConsoleError};
use crate::domain::group_receipts::{self, Counts, ListFilter, ListPage};
use crate::domain::messages::{self, RoamPage};
use crate::error::ApiError;
use crate::state::AppState;

const PAGE: i64 = 50;

/// The query of a group message.
#[derive(Deserialize, Default, Clone)]
pub struct GroupQuery {
    #[serde(default)]
    group: String,
    #[serde(default)]
    seq: String,
    /// Cursor of the reader list.
    #[serde(default)]
    read: String,
    /// Cursor of the unread list.
    #[serde(default)]
    unread: String,
}

impl GroupQuery {
    fn url(&self, base: &str, read: &str, unread: &str) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("group", &self.group).append_pair("seq", &self.seq);
        if !read.is_empty() {
            s.append_pair("read", read);
        }
        if !unread.is_empty() {
            s.append_pair("unread", unread);
        }
        format!("{base}?{}", s.finish())
    }

    fn seq(&self) -> Result<i64, ConsoleError> {
        match self.seq.trim().parse::<i64>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(ConsoleError::bad(format!("MsgSeq must be a whole number from 1, got {:?}", self.seq))),
        }
    }
}

/// The query of a C2C conversation.
#[derive(Deserialize, Default, Clone)]
pub struct C2cQuery {
    #[serde(default)]
    a: String,
    #[serde(default)]
    b: String,
    /// `LastMsgKey` of the page before (older messages).
    #[serde(default)]
    before: String,
}

impl C2cQuery {
    fn url(&self, base: &str, before: &str) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("a", &self.a).append_pair("b", &self.b);
        if !before.is_empty() {
            s.append_pair("before", before);
        }
        format!("{base}?{}", s.finish())
    }
}

fn account(v: &str, what: &str) -> Result<String, ConsoleError> {
    let v = v.trim();
    if v.is_empty() || v.len() > 32 || v.chars().any(char::is_control) {
        return Err(ConsoleError::bad(format!("{what} must be a UserID of 1 to 32 bytes, got {v:?}")));
    }
    Ok(v.to_string())
}

fn group_form(q: &GroupQuery) -> Markup {
    html! {
        form.filters #group-form method="get" action="/console/inspect/group" aria-label="Inspect a group message" {
            div { label for="group" { "GroupId" } input #group type="text" name="group" required value=(q.group); }
            div { label for="seq" { "MsgSeq" } input #seq type="number" name="seq" min="1" required value=(q.seq); }
            div { button #inspect-group type="submit" { "Inspect" } }
        }
    }
}

fn c2c_form(q: &C2cQuery) -> Markup {
    html! {
        form.filters #c2c-form method="get" action="/console/inspect/c2c" aria-label="Inspect a C2C conversation" {
            div { label for="a" { "Account" } input #a type="text" name="a" required value=(q.a); }
            div { label for="b" { "Peer account" } input #b type="text" name="b" required value=(q.b); }
            div { button #inspect-c2c type="submit" { "Inspect" } }
        }
    }
}

/// `GET /console/inspect`.
pub async fn index(state: web::Data<AppState>, s: Session) -> Result<HttpResponse, ConsoleError> {
    let body = html! {
        h2 { "A group message" }
        p { "Read, unread and delivered counts with the reader and unread lists, updated live." }
        (group_form(&GroupQuery::default()))
        h2 { "A C2C conversation" }
        p { "Messages between two accounts with IsPeerRead, read and delivery times." }
        (c2c_form(&C2cQuery::default()))
    };
    Ok(layout::page(&state, &s, "/console/inspect", "Message inspector", body).await)
}

/// What the group inspector shows: counts and one page of each list, or why not.
type GroupView = Result<(Counts, ListPage, ListPage), ApiError>;

async fn group_view(state: &AppState, q: &GroupQuery) -> Result<GroupView, ConsoleError> {
    let seq = q.seq()?;
    if q.group.trim().is_empty() {
        return Err(ConsoleError::bad("GroupId is required"));
    }
    let (g, rc, uc) = (q.group.trim().to_string(), q.read.clone(), q.unread.clone());
    let r = state
        .db(move |c| {
            let counts = group_receipts::query_counts(c, &g, None, &[seq])?;
            let read = group_receipts::list(c, &g, None, seq, ListFilter::Read, &rc, PAGE)?;
            let unread = group_receipts::list(c, &g, None, seq, ListFilter::Unread, &uc, PAGE)?;
            Ok((counts, read, unread))
        })
        .await;
    match r {
        Ok((counts, read, unread)) => {
            let c = counts.into_iter().next().unwrap_or(Counts {
                msg_seq: seq,
                found: false,
                read: 0,
                unread: 0,
                delivered: 0,
            });
            Ok(Ok((c, read, unread)))
        }
        // Not found, receipts off, a bad cursor: the page says so (and keeps polling, so a
        // message that appears or a type switched on shows up by itself).
        Err(e @ (ApiError::DbUnavailable(_) | ApiError::Internal(_))) => Err(e.into()),
        Err(e) => Ok(Err(e)),
    }
}

fn group_live(q: &GroupQuery, v: &GroupView) -> Markup {
    match v {
        Err(e) => layout::error_box(&format!("{e} (ErrorCode {})", e.code(crate::error::Service::Group))),
        Ok((c, read, unread)) => html! {
            dl.cards #counts {
                div.card { dt { "Read" } dd #read-num { (c.read) } }
                div.card { dt { "Unread" } dd #unread-num { (c.unread) } }
                div.card { dt { "Delivered" } dd #delivered-num { (c.delivered) } }
            }
            div.grid {
                div {
                    (layout::table("Readers", &["Account", "Read at", "AckContent"], html! {
                        @for r in &read.read {
                            tr { td { (r.account) } td { (time::show_unix(r.read_time)) } td { (r.ack_content.as_deref().unwrap_or("")) } }
                        }
                        @if read.read.is_empty() { tr { td colspan="3" { "Nobody has read it yet." } } }
                    }))
                    nav.pager aria-label="Reader pages" {
                        @if !q.read.is_empty() { a href=(q.url("/console/inspect/group", "", &q.unread)) { "First readers" } }
                        @if !read.finished { a #next-readers href=(q.url("/console/inspect/group", &read.cursor, &q.unread)) { "More readers" } }
                    }
                }
                div {
                    (layout::table("Not read yet", &["Account"], html! {
                        @for u in &unread.unread { tr { td { (u) } } }
                        @if unread.unread.is_empty() { tr { td { "Everyone has read it." } } }
                    }))
                    nav.pager aria-label="Unread pages" {
                        @if !q.unread.is_empty() { a href=(q.url("/console/inspect/group", &q.read, "")) { "First unread" } }
                        @if !unread.finished { a #next-unread href=(q.url("/console/inspect/group", &q.read, &unread.cursor)) { "More unread" } }
                    }
                }
            }
        },
    }
}

/// `GET /console/inspect/group`.
pub async fn group(
    state: web::Data<AppState>,
    s: Session,
    q: web::Query<GroupQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let v = group_view(&state, &q).await?;
    let body = html! {
        (group_form(&q))
        h2 { "Group " code { (q.group) } ", MsgSeq " (q.seq) }
        div #group-live data-live=(q.url("/console/inspect/group/live", &q.read, &q.unread)) data-every="1500" aria-live="polite" {
            (group_live(&q, &v))
        }
    };
    Ok(layout::page(&state, &s, "/console/inspect", "Message inspector", body).await)
}

/// `GET /console/inspect/group/live`.
pub async fn group_live_fragment(
    state: web::Data<AppState>,
    _: Session,
    q: web::Query<GroupQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let v = group_view(&state, &q).await?;
    Ok(layout::fragment(group_live(&q, &v)))
}

/// The texts of a message body, shortened, for the table.
fn preview(body: &messages::StoredBody) -> String {
    let v = serde_json::to_value(body).unwrap_or_default();
    let texts: Vec<String> = v
        .as_array()
        .map(|elems| {
            elems
                .iter()
                .map(|e| match (e["MsgType"].as_str(), e["MsgContent"]["Text"].as_str()) {
                    (Some("TIMTextElem"), Some(t)) => t.to_string(),
                    (Some(other), _) => format!("[{other}]"),
                    _ => "[?]".to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let all = texts.join(" ");
    match all.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &all[..i]),
        None => all,
    }
}

async fn c2c_view(state: &AppState, q: &C2cQuery) -> Result<RoamPage, ConsoleError> {
    let (a, b) = (account(&q.a, "Account")?, account(&q.b, "Peer account")?);
    let before = q.before.trim().to_string();
    if before.len() > 128 || before.chars().any(char::is_control) {
        return Err(ConsoleError::bad("the page cursor is not a MsgKey"));
    }
    let r = state
        .db(move |c| messages::roam(c, &a, &b, PAGE, 0, i64::MAX, Some(before.as_str()).filter(|k| !k.is_empty())))
        .await;
    r.map_err(|e| match e {
        ApiError::InvalidMsgKey(m) => ConsoleError::BadInput(m),
        other => other.into(),
    })
}

fn c2c_live(q: &C2cQuery, page: &RoamPage) -> Markup {
    let rows = html! {
        @for m in page.messages.iter().rev() {
            @let msg = &m.msg;
            tr {
                td { (time::show_unix(msg.msg_time)) }
                td { (msg.from_account) " → " (msg.to_account) }
                td { code { (msg.msg_key) } }
                td { (preview(&msg.msg_body)) @if msg.recalled_at.is_some() { " " span.badge.bad { "recalled" } } }
                td { @if msg.need_receipt { "yes" } @else { span.muted { "no" } } }
                td { @if m.peer_read_time.is_some() { span.badge.good { "1" } } @else { span.badge { "0" } } }
                td { (m.peer_read_time.map(time::show_unix).unwrap_or_else(|| "-".into())) }
                td { (msg.delivered_at.map(time::show).unwrap_or_else(|| "-".into())) }
            }
        }
        @if page.messages.is_empty() { tr { td colspan="8" { "No messages between these accounts." } } }
    };
    html! {
        (layout::table("Messages, newest first", &["Sent", "From → to", "MsgKey", "Body", "Receipt asked", "IsPeerRead", "Read at", "Delivered at"], rows))
        nav.pager aria-label="Conversation pages" {
            @if !q.before.is_empty() { a href=(q.url("/console/inspect/c2c", "")) { "Newest" } }
            @if !page.complete { @if let Some(oldest) = page.messages.first() { a #older-messages href=(q.url("/console/inspect/c2c", &oldest.msg.msg_key)) { "Older messages" } } }
        }
    }
}

/// `GET /console/inspect/c2c`.
pub async fn c2c(
    state: web::Data<AppState>,
    s: Session,
    q: web::Query<C2cQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let page = c2c_view(&state, &q).await?;
    let body = html! {
        (c2c_form(&q))
        h2 { "Between " code { (q.a) } " and " code { (q.b) } }
        div #c2c-live data-live=(q.url("/console/inspect/c2c/live", &q.before)) data-every="2000" aria-live="polite" {
            (c2c_live(&q, &page))
        }
    };
    Ok(layout::page(&state, &s, "/console/inspect", "Message inspector", body).await)
}

/// `GET /console/inspect/c2c/live`.
pub async fn c2c_live_fragment(
    state: web::Data<AppState>,
    _: Session,
    q: web::Query<C2cQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let page = c2c_view(&state, &q).await?;
    Ok(layout::fragment(c2c_live(&q, &page)))
}
