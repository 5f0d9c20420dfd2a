//! Groups and membership history.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::PgConnection;
use rand::Rng;

use crate::db::schema::{group_members, groups};
use crate::error::{ApiError, ApiResult};
use crate::webhooks::outbox::Origin;

/// Group types and their aliases, mapped to the canonical name.
pub fn canonical_type(t: &str) -> ApiResult<&'static str> {
    Ok(match t {
        "Private" | "Work" => "Private",
        "Public" => "Public",
        "ChatRoom" | "Meeting" => "ChatRoom",
        "AVChatRoom" => "AVChatRoom",
        "Community" => "Community",
        other => {
            return Err(ApiError::invalid(format!(
                "Type {other:?} is not a group type; use Private (Work), Public, ChatRoom (Meeting), AVChatRoom or Community"
            )))
        }
    })
}

/// A group row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = groups)]
pub struct Group {
    pub group_id: String,
    pub group_type: String,
    pub name: String,
    pub owner_account: Option<String>,
    pub introduction: String,
    pub notification: String,
    pub face_url: String,
    pub max_member_count: i32,
    pub apply_join_option: String,
    pub last_seq: i64,
    pub member_count: i32,
    pub created_at: DateTime<Utc>,
    pub info_seq: i64,
    pub info_updated_at: DateTime<Utc>,
    pub last_msg_time: i64,
    pub shut_up_all_member: bool,
}

/// A current member.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = group_members)]
pub struct Member {
    pub user_id: String,
    pub role: String,
    pub join_seq: i64,
    pub read_seq: i64,
    pub joined_at: DateTime<Utc>,
}

/// Input of [`create`].
#[derive(Debug, Default, Clone)]
pub struct NewGroup {
    pub group_id: Option<String>,
    pub group_type: String,
    pub name: String,
    pub owner: Option<String>,
    pub introduction: Option<String>,
    pub notification: Option<String>,
    pub face_url: Option<String>,
    pub max_member_count: Option<i32>,
    pub apply_join_option: Option<String>,
    /// (account, role) of the initial members.
    pub members: Vec<(String, Option<String>)>,
    /// Creation time of an imported group (unix seconds); `None` = now.
    pub create_time: Option<i64>,
}

/// Default member cap: receipts are supported far above Tencent's 200.
const DEFAULT_MAX_MEMBERS: i32 = 100_000;

/// Fails with 10004 when `v` is longer than `max` bytes.
pub fn check_len(field: &str, v: &Option<String>, max: usize) -> ApiResult<()> {
    match v {
        Some(s) if s.len() > max => {
            Err(ApiError::invalid(format!("{field} is {} bytes, at most {max} allowed", s.len())))
        }
        _ => Ok(()),
    }
}

fn generate_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..10).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("@TGS#2{tail}")
}

/// Creates a group with its owner and initial members; returns the GroupId.
pub fn create(conn: &mut PgConnection, g: NewGroup) -> ApiResult<(String, &'static str)> {
    let gtype = canonical_type(&g.group_type)?;
    if g.name.is_empty() {
        return Err(ApiError::invalid("Name is required and must not be empty"));
    }
    check_len("Name", &Some(g.name.clone()), 30)?;
    check_len("Introduction", &g.introduction, 240)?;
    check_len("Notification", &g.notification, 300)?;
    check_len("FaceUrl", &g.face_url, 100)?;
    check_apply_join_option(&g.apply_join_option)?;
    let max = g.max_member_count.unwrap_or(DEFAULT_MAX_MEMBERS);
    if max < 1 {
        return Err(ApiError::invalid("MaxMemberCount must be at least 1"));
    }
    if gtype == "AVChatRoom" && !g.members.is_empty() {
        return Err(ApiError::forbidden("an AVChatRoom cannot be created with a MemberList"));
    }
    if g.members.len() > 100 {
        return Err(ApiError::invalid(format!("MemberList has {} entries, at most 100 allowed", g.members.len())));
    }
    let group_id = match g.group_id {
        Some(id) => {
            if id.is_empty() || id.len() > 48 {
                return Err(ApiError::invalid("GroupId must be 1 to 48 bytes"));
            }
            if id.starts_with("@TGS#") {
                return Err(ApiError::invalid("a custom GroupId must not start with @TGS#"));
            }
            id
        }
        None => generate_id(),
    };
    let mut roster: Vec<(String, &'static str)> = Vec::new();
    if let Some(owner) = &g.owner {
        roster.push((owner.clone(), "Owner"));
    }
    for (account, role) in &g.members {
        let role = match role.as_deref() {
            None | Some("Member") => "Member",
            Some("Admin") => "Admin",
            Some(other) => {
                return Err(ApiError::invalid(format!(
                    "MemberList role {other:?} for {account:?} must be Admin or Member (the owner is Owner_Account)"
                )))
            }
        };
        if !roster.iter().any(|(a, _)| a == account) {
            roster.push((account.clone(), role));
        }
    }
    if roster.len() as i32 > max {
        return Err(ApiError::GroupFull(format!("{} members exceed MaxMemberCount {max}", roster.len())));
    }
    let ids: Vec<String> = roster.iter().map(|(a, _)| a.clone()).collect();
    let known = super::accounts::existing(conn, &ids)?;
    if let Some(missing) = ids.iter().find(|id| !known.contains(id)) {
        return Err(ApiError::AccountNotFound(missing.clone()));
    }
    // An imported group's first members joined when it was created.
    let created_at = g.create_time.and_then(|t| DateTime::from_timestamp(t, 0)).unwrap_or_else(Utc::now);
    let inserted = diesel::insert_into(groups::table)
        .values((
            groups::group_id.eq(&group_id),
            groups::group_type.eq(gtype),
            groups::name.eq(&g.name),
            groups::owner_account.eq(&g.owner),
            groups::introduction.eq(g.introduction.unwrap_or_default()),
            groups::notification.eq(g.notification.unwrap_or_default()),
            groups::face_url.eq(g.face_url.unwrap_or_default()),
            groups::max_member_count.eq(max),
            groups::apply_join_option.eq(g.apply_join_option.unwrap_or_else(|| "FreeAccess".into())),
            groups::member_count.eq(roster.len() as i32),
            groups::created_at.eq(created_at),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    if inserted == 0 {
        return Err(ApiError::GroupIdInUse(group_id));
    }
    let rows: Vec<_> = roster
        .iter()
        .map(|(a, r)| {
            (
                group_members::group_id.eq(&group_id),
                group_members::user_id.eq(a),
                group_members::role.eq(*r),
                group_members::join_seq.eq(0i64),
                group_members::joined_at.eq(created_at),
            )
        })
        .collect();
    diesel::insert_into(group_members::table).values(rows).execute(conn)?;
    Ok((group_id, gtype))
}

fn check_apply_join_option(opt: &Option<String>) -> ApiResult<()> {
    match opt.as_deref() {
        None | Some("FreeAccess" | "NeedPermission" | "DisableApply") => Ok(()),
        Some(other) => Err(ApiError::invalid(format!(
            "ApplyJoinOption {other:?} must be FreeAccess, NeedPermission or DisableApply"
        ))),
    }
}

/// Changes to a group's base info (`modify_group_base_info`); `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct BaseInfoChange {
    pub name: Option<String>,
    pub introduction: Option<String>,
    pub notification: Option<String>,
    pub face_url: Option<String>,
    pub max_member_count: Option<i32>,
    pub apply_join_option: Option<String>,
    pub shut_up_all_member: Option<bool>,
}

/// Applies `c` and moves the group's InfoSeq; returns the new InfoSeq.
pub fn modify_base_info(conn: &mut PgConnection, group_id: &str, c: BaseInfoChange) -> ApiResult<i64> {
    if c.name.as_deref() == Some("") {
        return Err(ApiError::invalid("Name must not be empty"));
    }
    check_len("Name", &c.name, 30)?;
    check_len("Introduction", &c.introduction, 240)?;
    check_len("Notification", &c.notification, 300)?;
    check_len("FaceUrl", &c.face_url, 100)?;
    check_apply_join_option(&c.apply_join_option)?;
    let g = lock(conn, group_id)?;
    if let Some(max) = c.max_member_count {
        if max < g.member_count.max(1) {
            return Err(ApiError::invalid(format!(
                "MaxMemberNum {max} is below the group's {} current members",
                g.member_count
            )));
        }
    }
    let seq = diesel::update(groups::table.find(group_id))
        .set((
            groups::name.eq(c.name.unwrap_or(g.name)),
            groups::introduction.eq(c.introduction.unwrap_or(g.introduction)),
            groups::notification.eq(c.notification.unwrap_or(g.notification)),
            groups::face_url.eq(c.face_url.unwrap_or(g.face_url)),
            groups::max_member_count.eq(c.max_member_count.unwrap_or(g.max_member_count)),
            groups::apply_join_option.eq(c.apply_join_option.unwrap_or(g.apply_join_option)),
            groups::shut_up_all_member.eq(c.shut_up_all_member.unwrap_or(g.shut_up_all_member)),
            groups::info_seq.eq(groups::info_seq + 1),
            groups::info_updated_at.eq(diesel::dsl::now),
        ))
        .returning(groups::info_seq)
        .get_result(conn)?;
    Ok(seq)
}

/// Makes `new_owner` (a current member) the owner; the previous owner becomes a Member.
pub fn change_owner(conn: &mut PgConnection, group_id: &str, new_owner: &str) -> ApiResult<()> {
    let g = lock(conn, group_id)?;
    if g.group_type == "AVChatRoom" {
        return Err(ApiError::forbidden("an AVChatRoom has no owner to hand over"));
    }
    require_member(conn, group_id, new_owner)?;
    if g.owner_account.as_deref() == Some(new_owner) {
        return Ok(());
    }
    let current =
        group_members::table.filter(group_members::group_id.eq(group_id)).filter(group_members::leave_seq.is_null());
    diesel::update(current.filter(group_members::role.eq("Owner")))
        .set(group_members::role.eq("Member"))
        .execute(conn)?;
    diesel::update(current.filter(group_members::user_id.eq(new_owner)))
        .set(group_members::role.eq("Owner"))
        .execute(conn)?;
    diesel::update(groups::table.find(group_id))
        .set((
            groups::owner_account.eq(new_owner),
            groups::info_seq.eq(groups::info_seq + 1),
            groups::info_updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Loads a group or fails with 10010.
pub fn get(conn: &mut PgConnection, group_id: &str) -> ApiResult<Group> {
    groups::table
        .find(group_id)
        .select(Group::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::GroupNotFound(group_id.to_string()))
}

/// Loads a group and row-locks it against concurrent sends (FOR NO KEY UPDATE).
pub fn lock(conn: &mut PgConnection, group_id: &str) -> ApiResult<Group> {
    groups::table
        .find(group_id)
        .select(Group::as_select())
        .for_no_key_update()
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::GroupNotFound(group_id.to_string()))
}

/// Destroys a group, its members, messages and receipts.
pub fn destroy(conn: &mut PgConnection, group_id: &str) -> ApiResult<()> {
    if diesel::delete(groups::table.find(group_id)).execute(conn)? == 0 {
        return Err(ApiError::GroupNotFound(group_id.to_string()));
    }
    Ok(())
}

/// The current membership of `user`, if any.
pub fn membership(conn: &mut PgConnection, group_id: &str, user: &str) -> ApiResult<Option<Member>> {
    Ok(group_members::table
        .filter(group_members::group_id.eq(group_id))
        .filter(group_members::user_id.eq(user))
        .filter(group_members::leave_seq.is_null())
        .select(Member::as_select())
        .first(conn)
        .optional()?)
}

/// Fails with 10007 unless `user` is a current member.
pub fn require_member(conn: &mut PgConnection, group_id: &str, user: &str) -> ApiResult<Member> {
    membership(conn, group_id, user)?
        .ok_or_else(|| ApiError::forbidden(format!("{user:?} is not a member of group {group_id:?}")))
}

/// Adds members; per account 0 = failed (not imported), 1 = added, 2 = already a member.
pub fn add_members(conn: &mut PgConnection, group_id: &str, users: &[String]) -> ApiResult<Vec<(String, i32)>> {
    if users.is_empty() || users.len() > 300 {
        return Err(ApiError::invalid(format!("MemberList must have 1 to 300 entries, got {}", users.len())));
    }
    let g = lock(conn, group_id)?;
    if g.group_type == "AVChatRoom" {
        return Err(ApiError::forbidden("members cannot be added to an AVChatRoom; users join it themselves"));
    }
    let known = super::accounts::existing(conn, users)?;
    let mut results = Vec::with_capacity(users.len());
    let mut added = 0;
    for u in users {
        if results.iter().any(|(r, _): &(String, i32)| r == u) {
            continue;
        }
        let result = if !known.contains(u) {
            0
        } else if membership(conn, group_id, u)?.is_some() {
            2
        } else {
            diesel::insert_into(group_members::table)
                .values((
                    group_members::group_id.eq(group_id),
                    group_members::user_id.eq(u),
                    group_members::role.eq("Member"),
                    group_members::join_seq.eq(g.last_seq),
                    group_members::read_seq.eq(g.last_seq),
                ))
                .execute(conn)?;
            added += 1;
            1
        };
        results.push((u.clone(), result));
    }
    if g.member_count + added > g.max_member_count {
        return Err(ApiError::GroupFull(format!(
            "group {group_id:?} is full: {} members + {added} new > MaxMemberCount {}",
            g.member_count, g.max_member_count
        )));
    }
    diesel::update(groups::table.find(group_id)).set(groups::member_count.eq(g.member_count + added)).execute(conn)?;
    Ok(results)
}

/// Ends the memberships of `users` (not members are ignored); returns how many left.
///
/// Messages the leavers had not read stop counting them, which can complete a message
/// ([`crate::domain::completion::after_leave`]); `origin` travels into those events.
pub fn remove_members(conn: &mut PgConnection, origin: &Origin, group_id: &str, users: &[String]) -> ApiResult<usize> {
    let g = lock(conn, group_id)?;
    let left: Vec<(String, i64)> = diesel::update(
        group_members::table
            .filter(group_members::group_id.eq(group_id))
            .filter(group_members::user_id.eq_any(users))
            .filter(group_members::leave_seq.is_null()),
    )
    .set((group_members::leave_seq.eq(g.last_seq), group_members::left_at.eq(diesel::dsl::now)))
    .returning((group_members::user_id, group_members::join_seq))
    .get_results(conn)?;
    let n = left.len();
    crate::domain::completion::after_leave(conn, origin, group_id, &left, g.last_seq)?;
    let owner_left = g.owner_account.as_ref().is_some_and(|o| users.contains(o));
    diesel::update(groups::table.find(group_id))
        .set((
            groups::member_count.eq(g.member_count - n as i32),
            groups::owner_account.eq(if owner_left { None } else { g.owner_account.clone() }),
        ))
        .execute(conn)?;
    Ok(n)
}

/// Changes a member's role to Admin or Member.
pub fn set_role(conn: &mut PgConnection, group_id: &str, user: &str, role: &str) -> ApiResult<()> {
    if !["Admin", "Member"].contains(&role) {
        return Err(ApiError::invalid(format!("Role {role:?} must be Admin or Member")));
    }
    let g = get(conn, group_id)?;
    if g.group_type == "AVChatRoom" {
        return Err(ApiError::forbidden("an AVChatRoom has no admins"));
    }
    let m = require_member(conn, group_id, user)?;
    if m.role == "Owner" {
        return Err(ApiError::forbidden(format!("{user:?} is the owner; the owner's role cannot be changed")));
    }
    diesel::update(
        group_members::table
            .filter(group_members::group_id.eq(group_id))
            .filter(group_members::user_id.eq(user))
            .filter(group_members::leave_seq.is_null()),
    )
    .set(group_members::role.eq(role))
    .execute(conn)?;
    Ok(())
}
