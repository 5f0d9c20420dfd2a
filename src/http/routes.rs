//! The command table: every `/v4/{service}/{command}` the server answers, and who may call it.

use std::future::Future;
use std::pin::Pin;

use actix_web::web::Bytes;

use super::auth::{Access, Caller};
use super::{body, group, group_msg, login, openim, privacy, read_stats, receipt, webhook};
use crate::error::ApiError;
use crate::state::AppState;

/// The boxed future a command handler returns: its answer's fields as a serialized JSON
/// object (serialized once, straight from the typed response: no intermediate `Value` copy).
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, ApiError>>>>;

/// One command.
pub struct Route {
    /// Service name, e.g. `openim`.
    pub service: &'static str,
    /// Command name, e.g. `sendmsg`.
    pub command: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Parses the body and runs the command.
    pub handler: fn(AppState, Caller, Bytes) -> HandlerFuture,
}

macro_rules! route {
    ($service:literal, $command:literal, $access:ident, $f:path) => {
        Route {
            service: $service,
            command: $command,
            access: Access::$access,
            handler: |state, caller, bytes| {
                Box::pin(async move {
                    let req = body::parse(&bytes)?;
                    let res = $f(state, caller, req).await?;
                    Ok(serde_json::to_vec(&res)?)
                })
            },
        }
    };
}

/// Every command, in documentation order.
pub static ROUTES: &[Route] = &[
    route!("im_open_login_svc", "account_import", Admin, login::account_import),
    route!("im_open_login_svc", "multiaccount_import", Admin, login::multiaccount_import),
    route!("im_open_login_svc", "account_delete", Admin, login::account_delete),
    route!("im_open_login_svc", "account_check", Admin, login::account_check),
    route!("openim", "sendmsg", Admin, openim::sendmsg),
    route!("openim", "batchsendmsg", Admin, openim::batchsendmsg),
    route!("openim", "admin_getroammsg", Admin, openim::admin_getroammsg),
    route!("openim", "admin_set_msg_read", User, openim::admin_set_msg_read),
    route!("openim", "c2c_msg_read_receipt", User, openim::c2c_msg_read_receipt),
    route!("openim", "get_c2c_unread_msg_num", User, openim::get_c2c_unread_msg_num),
    route!("openim", "admin_msgwithdraw", Admin, openim::admin_msgwithdraw),
    route!("openim", "importmsg", Admin, openim::importmsg),
    route!("group_open_http_svc", "create_group", Admin, group::create_group),
    route!("group_open_http_svc", "get_group_info", Admin, group::get_group_info),
    route!("group_open_http_svc", "destroy_group", Admin, group::destroy_group),
    route!("group_open_http_svc", "add_group_member", Admin, group::add_group_member),
    route!("group_open_http_svc", "delete_group_member", Admin, group::delete_group_member),
    route!("group_open_http_svc", "modify_group_member_info", Admin, group::modify_group_member_info),
    route!("group_open_http_svc", "get_group_member_info", Admin, group::get_group_member_info),
    route!("group_open_http_svc", "get_specified_group_member_info", Admin, group::get_specified_group_member_info),
    route!("group_open_http_svc", "get_joined_group_list", Admin, group::get_joined_group_list),
    route!("group_open_http_svc", "get_role_in_group", Admin, group::get_role_in_group),
    route!("group_open_http_svc", "modify_group_base_info", Admin, group::modify_group_base_info),
    route!("group_open_http_svc", "change_group_owner", Admin, group::change_group_owner),
    route!("group_open_http_svc", "import_group", Admin, group::import_group),
    route!("group_open_http_svc", "import_group_member", Admin, group::import_group_member),
    route!("group_open_http_svc", "send_group_msg", Admin, group_msg::send_group_msg),
    route!("group_open_http_svc", "group_msg_get_simple", Admin, group_msg::group_msg_get_simple),
    route!("group_open_http_svc", "group_msg_recall", Admin, group_msg::group_msg_recall),
    route!("group_open_http_svc", "import_group_msg", Admin, group_msg::import_group_msg),
    route!("group_open_http_svc", "group_msg_receipt", User, group_msg::group_msg_receipt),
    route!("group_open_http_svc", "get_group_msg_receipt", User, group_msg::get_group_msg_receipt),
    route!("group_open_http_svc", "get_group_msg_receipt_detail", User, group_msg::get_group_msg_receipt_detail),
    route!("receipt_svc", "msg_delivered", User, receipt::msg_delivered),
    route!("receipt_svc", "group_msg_read_report", User, receipt::group_msg_read_report),
    route!("receipt_svc", "get_c2c_msg_receipt", User, receipt::get_c2c_msg_receipt),
    route!("receipt_svc", "get_receipt_config", Admin, receipt::get_receipt_config),
    route!("receipt_svc", "set_receipt_config", Admin, receipt::set_receipt_config),
    route!("receipt_svc", "get_receipt_events", Admin, receipt::get_receipt_events),
    route!("receipt_svc", "get_read_stats", User, read_stats::get_read_stats),
    route!("receipt_svc", "set_user_receipt_privacy", User, privacy::set_user_receipt_privacy),
    route!("receipt_svc", "get_user_receipt_privacy", User, privacy::get_user_receipt_privacy),
    route!("webhook_svc", "create_endpoint", Admin, webhook::create_endpoint),
    route!("webhook_svc", "update_endpoint", Admin, webhook::update_endpoint),
    route!("webhook_svc", "delete_endpoint", Admin, webhook::delete_endpoint),
    route!("webhook_svc", "list_endpoints", Admin, webhook::list_endpoints),
    route!("webhook_svc", "rotate_secret", Admin, webhook::rotate_secret),
    route!("webhook_svc", "list_deliveries", Admin, webhook::list_deliveries),
    route!("webhook_svc", "get_delivery", Admin, webhook::get_delivery),
    route!("webhook_svc", "replay", Admin, webhook::replay),
];
