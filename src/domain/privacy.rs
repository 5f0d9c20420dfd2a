//! Private receipts: a user may choose not to be named as a reader.
//!
//! Policy (the full matrix is in `openapi/openapi.yaml`, `set_user_receipt_privacy`): a
//! private reader's reads count and clear their own unread state as any read does, but
//! reader lists hide them from everyone except the App admin and themselves, and webhooks and
//! senders' event streams report their reads without naming them (`Member_Account` /
//! `Operator_Account` / `Report_Account` "" and `Private: 1`). Privacy is stored on the
//! receipt when the read happens: turning it off later does not expose earlier reads, turning
//! it on hides only later ones.

use diesel::prelude::*;
use diesel::PgConnection;

use crate::db::schema::receipt_privacy;
use crate::domain::accounts;
use crate::error::ApiResult;

/// Sets whether `user` reads privately from now on (70107 when the account is not imported).
pub fn set(conn: &mut PgConnection, user: &str, private: bool) -> ApiResult<()> {
    accounts::require(conn, user)?;
    diesel::insert_into(receipt_privacy::table)
        .values((receipt_privacy::user_id.eq(user), receipt_privacy::private.eq(private)))
        .on_conflict(receipt_privacy::user_id)
        .do_update()
        .set((receipt_privacy::private.eq(private), receipt_privacy::updated_at.eq(diesel::dsl::now)))
        .execute(conn)?;
    Ok(())
}

/// Whether `user` reads privately now (70107 when the account is not imported).
pub fn get(conn: &mut PgConnection, user: &str) -> ApiResult<bool> {
    accounts::require(conn, user)?;
    is_private(conn, user)
}

/// Whether `user` reads privately now (false for an unknown account).
pub fn is_private(conn: &mut PgConnection, user: &str) -> ApiResult<bool> {
    let v: Option<bool> = receipt_privacy::table.find(user).select(receipt_privacy::private).first(conn).optional()?;
    Ok(v.unwrap_or(false))
}
