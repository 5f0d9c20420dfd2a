//! Member look-ups and member profile changes: lists, roles, joined groups, name cards, muting.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::PgConnection;

use crate::db::schema::{group_members, groups};
use crate::domain::groups::{self as group_dom, Group};
use crate::domain::now_secs;
use crate::error::{ApiError, ApiResult};

/// Largest page of `get_group_member_info` (Tencent: "Limit must not exceed 200").
pub const MAX_MEMBER_PAGE: i64 = 200;
/// Most accounts of one `get_specified_group_member_info` / `get_role_in_group` call.
pub const MAX_NAMED_MEMBERS: usize = 50;
/// Tencent's per-member message options.
pub const MSG_FLAGS: [&str; 4] = ["AcceptAndNotify", "AcceptNotNotify", "Discard", "AcceptNotNotifyExceptAt"];

/// A current member with the profile Tencent's member commands answer.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = group_members)]
pub struct MemberProfile {
    pub id: i64,
    pub user_id: String,
    pub role: String,
    pub read_seq: i64,
    pub joined_at: DateTime<Utc>,
    pub name_card: String,
    pub msg_flag: String,
    pub shut_up_until: i64,
    pub last_send_msg_time: i64,
}

/// Where a member page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStart {
    /// Skip this many members (Tencent's `Offset`).
    Offset(i64),
    /// Continue after the `Next` cursor a previous page returned ("" = the beginning).
    After(String),
}

/// One page of members in join order, the group's member count and the `Next` cursor ("" when
/// the page reaches the end).
pub struct MemberPage {
    pub total: i32,
    pub members: Vec<MemberProfile>,
    pub next: String,
}

fn current(group_id: &str) -> group_members::BoxedQuery<'_, diesel::pg::Pg> {
    group_members::table
        .filter(group_members::group_id.eq(group_id))
        .filter(group_members::leave_seq.is_null())
        .into_boxed()
}

/// Current members, only of `roles` when given (Tencent's `MemberRoleFilter`).
fn current_of<'a>(group_id: &'a str, roles: Option<&'a [String]>) -> group_members::BoxedQuery<'a, diesel::pg::Pg> {
    match roles {
        Some(r) => current(group_id).filter(group_members::role.eq_any(r)),
        None => current(group_id),
    }
}

/// A page of current members (`limit` already within 1..=[`MAX_MEMBER_PAGE`]), only of
/// `roles` when given.
pub fn page(
    conn: &mut PgConnection,
    group_id: &str,
    limit: i64,
    start: &PageStart,
    roles: Option<&[String]>,
) -> ApiResult<MemberPage> {
    let g = group_dom::get(conn, group_id)?;
    let mut q =
        current_of(group_id, roles).order(group_members::id).limit(limit + 1).select(MemberProfile::as_select());
    match start {
        PageStart::Offset(n) => q = q.offset(*n),
        PageStart::After(cursor) if cursor.is_empty() => {}
        PageStart::After(cursor) => {
            let after: i64 = cursor.parse().map_err(|_| {
                ApiError::invalid(format!(
                    "Next {cursor:?} is not a value returned by get_group_member_info; pass \"\" for the first page"
                ))
            })?;
            q = q.filter(group_members::id.gt(after));
        }
    }
    let mut members = q.load(conn)?;
    let more = members.len() as i64 > limit;
    members.truncate(limit as usize);
    let next = if more { members.last().map(|m| m.id.to_string()).unwrap_or_default() } else { String::new() };
    Ok(MemberPage { total: g.member_count, members, next })
}

/// Every current member, in join order.
pub fn all(conn: &mut PgConnection, group_id: &str) -> ApiResult<Vec<MemberProfile>> {
    Ok(current(group_id).order(group_members::id).select(MemberProfile::as_select()).load(conn)?)
}

/// The named accounts that are current members (others are left out), in join order, only of
/// `roles` when given.
pub fn named(
    conn: &mut PgConnection,
    group_id: &str,
    users: &[String],
    roles: Option<&[String]>,
) -> ApiResult<Vec<MemberProfile>> {
    check_named(users, "Member_List_Account")?;
    let g = group_dom::get(conn, group_id)?;
    if g.group_type == "AVChatRoom" {
        return Err(ApiError::forbidden("member profiles of an AVChatRoom cannot be queried"));
    }
    Ok(current_of(group_id, roles)
        .filter(group_members::user_id.eq_any(users))
        .order(group_members::id)
        .select(MemberProfile::as_select())
        .load(conn)?)
}

fn check_named(users: &[String], field: &str) -> ApiResult<()> {
    if users.is_empty() || users.len() > MAX_NAMED_MEMBERS {
        return Err(ApiError::invalid(format!(
            "{field} must name 1 to {MAX_NAMED_MEMBERS} accounts, got {}",
            users.len()
        )));
    }
    Ok(())
}

/// The role of each named account: Owner, Admin, Member or NotMember.
pub fn roles(conn: &mut PgConnection, group_id: &str, users: &[String]) -> ApiResult<Vec<(String, String)>> {
    check_named(users, "User_Account")?;
    group_dom::get(conn, group_id)?;
    let found: Vec<(String, String)> = current(group_id)
        .filter(group_members::user_id.eq_any(users))
        .select((group_members::user_id, group_members::role))
        .load(conn)?;
    Ok(users
        .iter()
        .map(|u| {
            let role = found.iter().find(|(id, _)| id == u).map_or("NotMember", |(_, r)| r.as_str());
            (u.clone(), role.to_string())
        })
        .collect())
}

/// The groups `user` belongs to (optionally of one type), in join order: the total and one
/// page with the user's own membership in each.
pub fn joined_groups(
    conn: &mut PgConnection,
    user: &str,
    group_type: Option<&str>,
    limit: i64,
    offset: i64,
) -> ApiResult<(i64, Vec<(Group, MemberProfile)>)> {
    let base = || {
        let mut q = group_members::table
            .inner_join(groups::table)
            .filter(group_members::user_id.eq(user))
            .filter(group_members::leave_seq.is_null())
            .into_boxed();
        if let Some(t) = group_type {
            q = q.filter(groups::group_type.eq(t.to_string()));
        }
        q
    };
    let total: i64 = base().count().get_result(conn)?;
    let rows = base()
        .order(group_members::id)
        .limit(limit)
        .offset(offset)
        .select((Group::as_select(), MemberProfile::as_select()))
        .load(conn)?;
    Ok((total, rows))
}

/// Changes to one member (`modify_group_member_info`); `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct MemberChange {
    pub role: Option<String>,
    pub name_card: Option<String>,
    pub msg_flag: Option<String>,
    /// Muted until this unix time (0 = not muted).
    pub shut_up_until: Option<i64>,
}

/// Applies `c` to the current member `user` of `group_id`.
pub fn modify(conn: &mut PgConnection, group_id: &str, user: &str, c: MemberChange) -> ApiResult<()> {
    group_dom::check_len("NameCard", &c.name_card, 50)?;
    if let Some(flag) = c.msg_flag.as_deref().filter(|f| !MSG_FLAGS.contains(f)) {
        return Err(ApiError::invalid(format!("MsgFlag {flag:?} must be one of {}", MSG_FLAGS.join(", "))));
    }
    if c.shut_up_until.is_some_and(|t| t < 0) {
        return Err(ApiError::invalid("the mute time must not be negative"));
    }
    // Locked like change_owner, so a role change and an owner change cannot interleave.
    group_dom::lock(conn, group_id)?;
    if let Some(role) = &c.role {
        group_dom::set_role(conn, group_id, user, role)?;
    }
    let m = group_dom::require_member(conn, group_id, user)?;
    if c.shut_up_until.is_some_and(|t| t > 0) && m.role == "Owner" {
        return Err(ApiError::forbidden(format!("{user:?} is the owner of {group_id:?} and cannot be muted")));
    }
    let target = current(group_id).filter(group_members::user_id.eq(user)).select(group_members::id);
    let id: i64 = target.first(conn)?;
    let row = group_members::table.find(id);
    if let Some(v) = c.name_card {
        diesel::update(row).set(group_members::name_card.eq(v)).execute(conn)?;
    }
    if let Some(v) = c.msg_flag {
        diesel::update(row).set(group_members::msg_flag.eq(v)).execute(conn)?;
    }
    if let Some(v) = c.shut_up_until {
        diesel::update(row).set(group_members::shut_up_until.eq(v)).execute(conn)?;
    }
    Ok(())
}

/// The mute end for Tencent's relative `ShutUpTime`/`MuteTime` seconds (0 = unmute).
pub fn mute_until(seconds: i64) -> i64 {
    if seconds <= 0 {
        0
    } else {
        now_secs().saturating_add(seconds)
    }
}
