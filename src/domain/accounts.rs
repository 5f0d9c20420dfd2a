//! Accounts: import, delete, check.

use diesel::prelude::*;
use diesel::PgConnection;

use crate::db::schema::{accounts, group_members};
use crate::error::{ApiError, ApiResult};

/// Checks a UserID: 1 to 32 bytes.
pub fn validate_id(id: &str, field: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > 32 {
        return Err(ApiError::invalid(format!("{field} must be 1 to 32 bytes, got {} bytes", id.len())));
    }
    Ok(())
}

/// Imports (or updates the profile of) one account; importing twice is harmless.
pub fn import(conn: &mut PgConnection, id: &str, nick: Option<&str>, face_url: Option<&str>) -> ApiResult<()> {
    validate_id(id, "UserID")?;
    for (name, v) in [("Nick", nick), ("FaceUrl", face_url)] {
        if v.is_some_and(|v| v.len() > 500) {
            return Err(ApiError::FieldTooLong(format!("{name} is longer than 500 bytes")));
        }
    }
    let row = (
        accounts::user_id.eq(id),
        accounts::nick.eq(nick.unwrap_or_default()),
        accounts::face_url.eq(face_url.unwrap_or_default()),
    );
    // Re-importing updates only the profile fields that were given.
    diesel::insert_into(accounts::table)
        .values(row)
        .on_conflict(accounts::user_id)
        .do_update()
        .set((
            accounts::nick.eq(diesel::dsl::sql::<diesel::sql_types::Text>(if nick.is_some() {
                "excluded.nick"
            } else {
                "accounts.nick"
            })),
            accounts::face_url.eq(diesel::dsl::sql::<diesel::sql_types::Text>(if face_url.is_some() {
                "excluded.face_url"
            } else {
                "accounts.face_url"
            })),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whether the account exists.
pub fn exists(conn: &mut PgConnection, id: &str) -> ApiResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(accounts::table.find(id))).get_result(conn)?)
}

/// Fails with 70107 unless the account exists.
pub fn require(conn: &mut PgConnection, id: &str) -> ApiResult<()> {
    if exists(conn, id)? {
        Ok(())
    } else {
        Err(ApiError::AccountNotFound(id.to_string()))
    }
}

/// The subset of `ids` that are imported.
pub fn existing(conn: &mut PgConnection, ids: &[String]) -> ApiResult<Vec<String>> {
    Ok(accounts::table.filter(accounts::user_id.eq_any(ids)).select(accounts::user_id).load(conn)?)
}

/// Deletes accounts; their group memberships end (history is kept for receipts).
/// Returns for each id whether it existed.
pub fn delete(
    conn: &mut PgConnection,
    origin: &crate::webhooks::outbox::Origin,
    ids: &[String],
) -> ApiResult<Vec<(String, bool)>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let n = diesel::delete(accounts::table.find(id)).execute(conn)?;
        if n > 0 {
            let memberships: Vec<String> = group_members::table
                .filter(group_members::user_id.eq(id).and(group_members::leave_seq.is_null()))
                .select(group_members::group_id)
                .load(conn)?;
            for gid in memberships {
                crate::domain::groups::remove_members(conn, origin, &gid, std::slice::from_ref(id))?;
            }
        }
        out.push((id.clone(), n > 0));
    }
    Ok(out)
}
