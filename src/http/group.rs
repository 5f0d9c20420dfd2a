//! `group_open_http_svc`: groups and members (messages and receipts are in `group_msg`).

use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::wire::{self, int_or_string, Empty};
use crate::domain::groups::{self, BaseInfoChange, Group, NewGroup};
use crate::domain::import::{self, MemberImport};
use crate::domain::members::{self, MemberChange, MemberProfile, PageStart, MAX_MEMBER_PAGE};
use crate::error::{ApiError, ApiResult, Service};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct MemberItem {
    #[serde(rename = "Member_Account")]
    member_account: String,
    #[serde(rename = "Role")]
    role: Option<String>,
    #[serde(rename = "JoinTime", default, deserialize_with = "int_or_string")]
    join_time: Option<i64>,
    #[serde(rename = "UnreadMsgNum", default, deserialize_with = "int_or_string")]
    unread_msg_num: Option<i64>,
}

#[derive(Deserialize)]
pub struct CreateGroupRequest {
    #[serde(rename = "Type")]
    group_type: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Owner_Account")]
    owner_account: Option<String>,
    #[serde(rename = "GroupId")]
    group_id: Option<String>,
    #[serde(rename = "Introduction")]
    introduction: Option<String>,
    #[serde(rename = "Notification")]
    notification: Option<String>,
    #[serde(rename = "FaceUrl")]
    face_url: Option<String>,
    #[serde(rename = "MaxMemberCount", alias = "MaxMemberNum")]
    max_member_count: Option<i32>,
    #[serde(rename = "ApplyJoinOption")]
    apply_join_option: Option<String>,
    #[serde(rename = "MemberList", default)]
    member_list: Option<Vec<MemberItem>>,
    #[serde(rename = "CreateTime", default, deserialize_with = "int_or_string")]
    create_time: Option<i64>,
    #[serde(rename = "AppDefinedData")]
    app_defined_data: Option<serde_json::Value>,
}

impl CreateGroupRequest {
    fn into_new_group(self) -> ApiResult<NewGroup> {
        refuse_custom_data(&self.app_defined_data, "AppDefinedData")?;
        Ok(NewGroup {
            group_id: self.group_id,
            group_type: self.group_type,
            name: self.name,
            owner: self.owner_account,
            introduction: self.introduction,
            notification: self.notification,
            face_url: self.face_url,
            max_member_count: self.max_member_count,
            apply_join_option: self.apply_join_option,
            members: self.member_list.unwrap_or_default().into_iter().map(|m| (m.member_account, m.role)).collect(),
            // Go SDKs always send CreateTime, 0 when unset.
            create_time: self.create_time.filter(|t| *t > 0),
        })
    }
}

/// Custom data fields need per-app key registration in Tencent's console, which imreceipts does
/// not have: refuse them clearly rather than drop them.
fn refuse_custom_data(v: &Option<serde_json::Value>, field: &str) -> ApiResult<()> {
    match v {
        Some(serde_json::Value::Array(items)) if !items.is_empty() => {
            Err(ApiError::invalid(format!("{field} (custom data fields) is not supported by imreceipts; remove it")))
        }
        _ => Ok(()),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGroupResponse {
    group_id: String,
    r#type: &'static str,
}

pub async fn create_group(state: AppState, _: Caller, req: CreateGroupRequest) -> ApiResult<CreateGroupResponse> {
    let g = NewGroup { create_time: None, ..req.into_new_group()? };
    let (group_id, gtype) = state.tx(move |c| groups::create(c, g.clone())).await?;
    Ok(CreateGroupResponse { group_id, r#type: gtype })
}

pub async fn import_group(state: AppState, _: Caller, req: CreateGroupRequest) -> ApiResult<CreateGroupResponse> {
    let g = req.into_new_group()?;
    let (group_id, gtype) = state.tx(move |c| import::import_group(c, g.clone())).await?;
    Ok(CreateGroupResponse { group_id, r#type: gtype })
}

/// Which member fields to answer (`MemberInfoFilter`); `None` = all.
struct MemberFields(Option<Vec<String>>);

impl MemberFields {
    fn has(&self, name: &str) -> bool {
        self.0.as_ref().is_none_or(|f| f.iter().any(|x| x == name))
    }
}

/// One member as Tencent answers it. Both mute spellings are sent: Java SDKs read `MuteUntil`,
/// Go SDKs `ShutUpUntil`.
#[derive(Serialize)]
pub struct MemberInfo {
    #[serde(rename = "Member_Account")]
    member_account: String,
    #[serde(rename = "Role", skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    #[serde(rename = "JoinTime", skip_serializing_if = "Option::is_none")]
    join_time: Option<i64>,
    #[serde(rename = "MsgSeq", skip_serializing_if = "Option::is_none")]
    msg_seq: Option<i64>,
    #[serde(rename = "MsgFlag", skip_serializing_if = "Option::is_none")]
    msg_flag: Option<String>,
    #[serde(rename = "LastSendMsgTime", skip_serializing_if = "Option::is_none")]
    last_send_msg_time: Option<i64>,
    #[serde(rename = "ShutUpUntil", skip_serializing_if = "Option::is_none")]
    shut_up_until: Option<i64>,
    #[serde(rename = "MuteUntil", skip_serializing_if = "Option::is_none")]
    mute_until: Option<i64>,
    #[serde(rename = "NameCard", skip_serializing_if = "Option::is_none")]
    name_card: Option<String>,
}

impl MemberInfo {
    fn new(m: MemberProfile, f: &MemberFields) -> MemberInfo {
        let mute = (f.has("ShutUpUntil") || f.has("MuteUntil")).then_some(m.shut_up_until);
        MemberInfo {
            member_account: m.user_id,
            role: f.has("Role").then_some(m.role),
            join_time: f.has("JoinTime").then_some(m.joined_at.timestamp()),
            msg_seq: f.has("MsgSeq").then_some(m.read_seq),
            msg_flag: f.has("MsgFlag").then_some(m.msg_flag),
            last_send_msg_time: f.has("LastSendMsgTime").then_some(m.last_send_msg_time),
            shut_up_until: mute,
            mute_until: mute,
            name_card: f.has("NameCard").then_some(m.name_card),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ResponseFilter {
    #[serde(rename = "GroupBaseInfoFilter")]
    group_base_info_filter: Option<Vec<String>>,
    #[serde(rename = "MemberInfoFilter")]
    member_info_filter: Option<Vec<String>>,
    #[serde(rename = "SelfInfoFilter")]
    self_info_filter: Option<Vec<String>>,
}

#[derive(Deserialize)]
pub struct GetGroupInfoRequest {
    #[serde(rename = "GroupIdList")]
    group_id_list: Vec<String>,
    #[serde(rename = "ResponseFilter")]
    response_filter: Option<ResponseFilter>,
}

/// A group's base info; every field but the id can be filtered out (`GroupBaseInfoFilter`).
/// `ShutUpAllMember` and `MuteAllMember` carry the same "On"/"Off" for Go and Java SDKs.
#[derive(Serialize, Default)]
pub struct GroupBase {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    group_type: Option<String>,
    #[serde(rename = "Name", skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(rename = "Appid", skip_serializing_if = "Option::is_none")]
    appid: Option<u64>,
    #[serde(rename = "Introduction", skip_serializing_if = "Option::is_none")]
    introduction: Option<String>,
    #[serde(rename = "Notification", skip_serializing_if = "Option::is_none")]
    notification: Option<String>,
    #[serde(rename = "FaceUrl", skip_serializing_if = "Option::is_none")]
    face_url: Option<String>,
    #[serde(rename = "Owner_Account", skip_serializing_if = "Option::is_none")]
    owner_account: Option<String>,
    #[serde(rename = "CreateTime", skip_serializing_if = "Option::is_none")]
    create_time: Option<i64>,
    #[serde(rename = "InfoSeq", skip_serializing_if = "Option::is_none")]
    info_seq: Option<i64>,
    #[serde(rename = "LastInfoTime", skip_serializing_if = "Option::is_none")]
    last_info_time: Option<i64>,
    #[serde(rename = "LastMsgTime", skip_serializing_if = "Option::is_none")]
    last_msg_time: Option<i64>,
    #[serde(rename = "NextMsgSeq", skip_serializing_if = "Option::is_none")]
    next_msg_seq: Option<i64>,
    #[serde(rename = "MemberNum", skip_serializing_if = "Option::is_none")]
    member_num: Option<i32>,
    #[serde(rename = "MaxMemberNum", skip_serializing_if = "Option::is_none")]
    max_member_num: Option<i32>,
    #[serde(rename = "ApplyJoinOption", skip_serializing_if = "Option::is_none")]
    apply_join_option: Option<String>,
    #[serde(rename = "ShutUpAllMember", skip_serializing_if = "Option::is_none")]
    shut_up_all_member: Option<&'static str>,
    #[serde(rename = "MuteAllMember", skip_serializing_if = "Option::is_none")]
    mute_all_member: Option<&'static str>,
}

impl GroupBase {
    fn new(g: Group, appid: u64, fields: Option<&[String]>) -> GroupBase {
        let has = |name: &str| fields.is_none_or(|f| f.iter().any(|x| x == name));
        let shut_up = if g.shut_up_all_member { "On" } else { "Off" };
        let mute = (has("ShutUpAllMember") || has("MuteAllMember")).then_some(shut_up);
        GroupBase {
            group_id: g.group_id,
            group_type: has("Type").then_some(g.group_type),
            name: has("Name").then_some(g.name),
            appid: has("Appid").then_some(appid),
            introduction: has("Introduction").then_some(g.introduction),
            notification: has("Notification").then_some(g.notification),
            face_url: has("FaceUrl").then_some(g.face_url),
            owner_account: has("Owner_Account").then(|| g.owner_account.unwrap_or_default()),
            create_time: has("CreateTime").then_some(g.created_at.timestamp()),
            info_seq: has("InfoSeq").then_some(g.info_seq),
            last_info_time: has("LastInfoTime").then_some(g.info_updated_at.timestamp()),
            last_msg_time: has("LastMsgTime").then_some(g.last_msg_time),
            next_msg_seq: has("NextMsgSeq").then_some(g.last_seq + 1),
            member_num: has("MemberNum").then_some(g.member_count),
            max_member_num: has("MaxMemberNum").then_some(g.max_member_count),
            apply_join_option: has("ApplyJoinOption").then_some(g.apply_join_option),
            shut_up_all_member: mute,
            mute_all_member: mute,
        }
    }
}

#[derive(Serialize)]
pub struct GroupInfoItem {
    #[serde(flatten)]
    base: GroupBase,
    #[serde(rename = "ErrorCode")]
    error_code: u32,
    #[serde(rename = "ErrorInfo")]
    error_info: String,
    #[serde(rename = "MemberList", skip_serializing_if = "Option::is_none")]
    member_list: Option<Vec<MemberInfo>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetGroupInfoResponse {
    group_info: Vec<GroupInfoItem>,
}

/// Per group: its info, or its own ErrorCode (Tencent's top-level code is always 0 here).
pub async fn get_group_info(state: AppState, _: Caller, req: GetGroupInfoRequest) -> ApiResult<GetGroupInfoResponse> {
    wire::check_len(&req.group_id_list, 1, 50, "GroupIdList")?;
    let appid = state.app.sdkappid;
    let group_info = state
        .db(move |c| {
            // Without a filter everything is answered; with one, only what it names (and the
            // member list only when MemberInfoFilter is given).
            let filter = req.response_filter;
            let base_fields = filter.as_ref().and_then(|f| f.group_base_info_filter.clone());
            let member_fields = match &filter {
                None => Some(MemberFields(None)),
                Some(f) => f.member_info_filter.clone().map(|m| MemberFields(Some(m))),
            };
            req.group_id_list
                .iter()
                .map(|id| match groups::get(c, id) {
                    Ok(g) => {
                        let member_list = match &member_fields {
                            Some(f) if g.group_type != "AVChatRoom" => {
                                Some(members::all(c, id)?.into_iter().map(|m| MemberInfo::new(m, f)).collect())
                            }
                            _ => None,
                        };
                        Ok(GroupInfoItem {
                            base: GroupBase::new(g, appid, base_fields.as_deref()),
                            error_code: 0,
                            error_info: String::new(),
                            member_list,
                        })
                    }
                    Err(e @ ApiError::GroupNotFound(_)) => Ok(GroupInfoItem {
                        base: GroupBase { group_id: id.clone(), ..GroupBase::default() },
                        error_code: e.code(Service::Group),
                        error_info: e.to_string(),
                        member_list: None,
                    }),
                    Err(e) => Err(e),
                })
                .collect::<ApiResult<Vec<_>>>()
        })
        .await?;
    Ok(GetGroupInfoResponse { group_info })
}

#[derive(Deserialize)]
pub struct GroupIdRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
}

pub async fn destroy_group(state: AppState, _: Caller, req: GroupIdRequest) -> ApiResult<Empty> {
    state.tx(move |c| groups::destroy(c, &req.group_id)).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
pub struct AddMemberRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "MemberList")]
    member_list: Vec<MemberItem>,
}

#[derive(Serialize)]
pub struct MemberResult {
    #[serde(rename = "Member_Account")]
    member_account: String,
    #[serde(rename = "Result")]
    result: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MemberResults {
    member_list: Vec<MemberResult>,
}

fn member_results(results: Vec<(String, i32)>) -> MemberResults {
    MemberResults {
        member_list: results
            .into_iter()
            .map(|(member_account, result)| MemberResult { member_account, result })
            .collect(),
    }
}

pub async fn add_group_member(state: AppState, _: Caller, req: AddMemberRequest) -> ApiResult<MemberResults> {
    let users: Vec<String> = req.member_list.into_iter().map(|m| m.member_account).collect();
    Ok(member_results(state.tx(move |c| groups::add_members(c, &req.group_id, &users)).await?))
}

/// Members keep their join time, so imported history counts only the readers who were there.
pub async fn import_group_member(state: AppState, _: Caller, req: AddMemberRequest) -> ApiResult<MemberResults> {
    let items = req
        .member_list
        .into_iter()
        .map(|m| {
            let role = match m.role.as_deref() {
                None | Some("Member") => "Member",
                Some("Admin") => "Admin",
                Some(other) => {
                    return Err(ApiError::invalid(format!(
                        "Role {other:?} of {:?} must be Admin or Member",
                        m.member_account
                    )))
                }
            };
            Ok(MemberImport {
                account: m.member_account,
                role: role.into(),
                join_time: m.join_time,
                unread: m.unread_msg_num,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(member_results(state.tx(move |c| import::import_members(c, &req.group_id, &items)).await?))
}

#[derive(Deserialize)]
pub struct DeleteMemberRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "MemberToDel_Account")]
    member_to_del_account: Vec<String>,
}

pub async fn delete_group_member(state: AppState, caller: Caller, req: DeleteMemberRequest) -> ApiResult<Empty> {
    wire::check_len(&req.member_to_del_account, 1, 100, "MemberToDel_Account")?;
    state
        .tx(move |c| {
            let g = groups::get(c, &req.group_id)?;
            if let Some(owner) = g.owner_account.filter(|o| req.member_to_del_account.contains(o)) {
                return Err(ApiError::forbidden(format!(
                    "{owner:?} is the owner of {:?} and cannot be removed; hand the group over with change_group_owner first",
                    req.group_id
                )));
            }
            groups::remove_members(c, &caller.origin, &req.group_id, &req.member_to_del_account)
        })
        .await?;
    Ok(Empty {})
}

/// Muting comes in three spellings: `ShutUpTime` (Tencent, Python SDK) and `MuteTime` (Java
/// SDK) are seconds from now, `ShutUpUntil` (Go SDK) is a unix time; 0 lifts the mute.
#[derive(Deserialize)]
pub struct ModifyMemberRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Member_Account")]
    member_account: String,
    #[serde(rename = "Role")]
    role: Option<String>,
    #[serde(rename = "NameCard")]
    name_card: Option<String>,
    #[serde(rename = "MsgFlag")]
    msg_flag: Option<String>,
    #[serde(rename = "ShutUpTime", alias = "MuteTime", default, deserialize_with = "int_or_string")]
    shut_up_time: Option<i64>,
    #[serde(rename = "ShutUpUntil", alias = "MuteUntil", default, deserialize_with = "int_or_string")]
    shut_up_until: Option<i64>,
    #[serde(rename = "AppMemberDefinedData")]
    app_member_defined_data: Option<serde_json::Value>,
}

pub async fn modify_group_member_info(state: AppState, _: Caller, req: ModifyMemberRequest) -> ApiResult<Empty> {
    refuse_custom_data(&req.app_member_defined_data, "AppMemberDefinedData")?;
    let until = match (req.shut_up_time, req.shut_up_until) {
        (Some(secs), _) if secs < 0 => return Err(ApiError::invalid("ShutUpTime must not be negative")),
        (Some(secs), _) => Some(members::mute_until(secs)),
        (None, until) => until,
    };
    state
        .tx(move |c| {
            let change = MemberChange {
                role: req.role.clone(),
                name_card: req.name_card.clone(),
                msg_flag: req.msg_flag.clone(),
                shut_up_until: until,
            };
            members::modify(c, &req.group_id, &req.member_account, change)
        })
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
pub struct MemberInfoRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Limit", default, deserialize_with = "int_or_string")]
    limit: Option<i64>,
    #[serde(rename = "Offset", default, deserialize_with = "int_or_string")]
    offset: Option<i64>,
    #[serde(rename = "Next")]
    next: Option<String>,
    #[serde(rename = "MemberInfoFilter")]
    member_info_filter: Option<Vec<String>>,
    #[serde(rename = "MemberRoleFilter")]
    member_role_filter: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MemberInfoResponse {
    member_num: i32,
    member_list: Vec<MemberInfo>,
    next: String,
}

/// `Limit` 0 or absent means "as many as a page holds" (200); paging by `Offset` or by the
/// returned `Next` cursor.
pub async fn get_group_member_info(
    state: AppState,
    _: Caller,
    req: MemberInfoRequest,
) -> ApiResult<MemberInfoResponse> {
    let limit = wire::page_limit(req.limit, MAX_MEMBER_PAGE)?;
    let start = match (req.next, wire::offset(req.offset)?) {
        (Some(next), 0) => PageStart::After(next),
        (_, n) => PageStart::Offset(n),
    };
    let fields = MemberFields(req.member_info_filter);
    let roles = req.member_role_filter;
    let page = state.db(move |c| members::page(c, &req.group_id, limit, &start, roles.as_deref())).await?;
    let member_list = page.members.into_iter().map(|m| MemberInfo::new(m, &fields)).collect();
    Ok(MemberInfoResponse { member_num: page.total, member_list, next: page.next })
}

#[derive(Deserialize)]
pub struct SpecifiedMembersRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Member_List_Account")]
    member_list_account: Vec<String>,
    #[serde(rename = "MemberInfoFilter")]
    member_info_filter: Option<Vec<String>>,
    #[serde(rename = "MemberRoleFilter")]
    member_role_filter: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SpecifiedMembersResponse {
    group_id: String,
    member_list: Vec<MemberInfo>,
}

/// Accounts that are not current members are left out of the answer.
pub async fn get_specified_group_member_info(
    state: AppState,
    _: Caller,
    req: SpecifiedMembersRequest,
) -> ApiResult<SpecifiedMembersResponse> {
    let gid = req.group_id.clone();
    let roles = req.member_role_filter;
    let found = state.db(move |c| members::named(c, &gid, &req.member_list_account, roles.as_deref())).await?;
    let fields = MemberFields(req.member_info_filter);
    let member_list = found.into_iter().map(|m| MemberInfo::new(m, &fields)).collect();
    Ok(SpecifiedMembersResponse { group_id: req.group_id, member_list })
}

#[derive(Deserialize)]
pub struct JoinedGroupsRequest {
    #[serde(rename = "Member_Account")]
    member_account: String,
    #[serde(rename = "Limit", default, deserialize_with = "int_or_string")]
    limit: Option<i64>,
    #[serde(rename = "Offset", default, deserialize_with = "int_or_string")]
    offset: Option<i64>,
    #[serde(rename = "GroupType", alias = "Type")]
    group_type: Option<String>,
    #[serde(rename = "ResponseFilter")]
    response_filter: Option<ResponseFilter>,
}

#[derive(Serialize)]
pub struct JoinedGroup {
    #[serde(flatten)]
    base: GroupBase,
    #[serde(rename = "SelfInfo", skip_serializing_if = "Option::is_none")]
    self_info: Option<MemberInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JoinedGroupsResponse {
    total_count: i64,
    group_id_list: Vec<JoinedGroup>,
}

/// Largest page of `get_joined_group_list`.
const MAX_JOINED_PAGE: i64 = 5000;

/// Without `GroupBaseInfoFilter` each entry carries only its `GroupId` (Tencent's default);
/// `SelfInfoFilter` adds the user's own membership.
pub async fn get_joined_group_list(
    state: AppState,
    _: Caller,
    req: JoinedGroupsRequest,
) -> ApiResult<JoinedGroupsResponse> {
    let limit = wire::page_limit(req.limit, MAX_JOINED_PAGE)?;
    let offset = wire::offset(req.offset)?;
    let gtype = req.group_type.filter(|t| !t.is_empty()).map(|t| groups::canonical_type(&t)).transpose()?;
    let filter = req.response_filter.unwrap_or_default();
    let base_fields = filter.group_base_info_filter.unwrap_or_default();
    let self_fields = filter.self_info_filter;
    let appid = state.app.sdkappid;
    let user = req.member_account;
    let (total, rows) = state
        .db(move |c| {
            crate::domain::accounts::require(c, &user)?;
            members::joined_groups(c, &user, gtype, limit, offset)
        })
        .await?;
    let group_id_list = rows
        .into_iter()
        .map(|(g, m)| JoinedGroup {
            base: GroupBase::new(g, appid, Some(&base_fields)),
            self_info: self_fields.clone().map(|f| MemberInfo::new(m, &MemberFields(Some(f)))),
        })
        .collect();
    Ok(JoinedGroupsResponse { total_count: total, group_id_list })
}

#[derive(Deserialize)]
pub struct RoleRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "User_Account")]
    user_account: Vec<String>,
}

#[derive(Serialize)]
pub struct UserRole {
    #[serde(rename = "Member_Account")]
    member_account: String,
    #[serde(rename = "Role")]
    role: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleResponse {
    user_id_list: Vec<UserRole>,
}

pub async fn get_role_in_group(state: AppState, _: Caller, req: RoleRequest) -> ApiResult<RoleResponse> {
    let roles = state.db(move |c| members::roles(c, &req.group_id, &req.user_account)).await?;
    Ok(RoleResponse {
        user_id_list: roles.into_iter().map(|(member_account, role)| UserRole { member_account, role }).collect(),
    })
}

#[derive(Deserialize)]
pub struct ModifyBaseInfoRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "Introduction")]
    introduction: Option<String>,
    #[serde(rename = "Notification")]
    notification: Option<String>,
    #[serde(rename = "FaceUrl")]
    face_url: Option<String>,
    #[serde(rename = "MaxMemberNum", alias = "MaxMemberCount", default, deserialize_with = "int_or_string")]
    max_member_num: Option<i64>,
    #[serde(rename = "ApplyJoinOption")]
    apply_join_option: Option<String>,
    #[serde(rename = "ShutUpAllMember", alias = "MuteAllMember")]
    shut_up_all_member: Option<String>,
    #[serde(rename = "AppDefinedData")]
    app_defined_data: Option<serde_json::Value>,
}

pub async fn modify_group_base_info(state: AppState, _: Caller, req: ModifyBaseInfoRequest) -> ApiResult<Empty> {
    refuse_custom_data(&req.app_defined_data, "AppDefinedData")?;
    let shut_up = match req.shut_up_all_member.as_deref() {
        None => None,
        Some("On") => Some(true),
        Some("Off") => Some(false),
        Some(other) => {
            return Err(ApiError::invalid(format!("ShutUpAllMember must be \"On\" or \"Off\", got {other:?}")))
        }
    };
    let max = req
        .max_member_num
        .map(|n| {
            i32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| ApiError::invalid("MaxMemberNum must be positive"))
        })
        .transpose()?;
    state
        .tx(move |c| {
            let change = BaseInfoChange {
                name: req.name.clone(),
                introduction: req.introduction.clone(),
                notification: req.notification.clone(),
                face_url: req.face_url.clone(),
                max_member_count: max,
                apply_join_option: req.apply_join_option.clone(),
                shut_up_all_member: shut_up,
            };
            groups::modify_base_info(c, &req.group_id, change).map(|_| ())
        })
        .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
pub struct ChangeOwnerRequest {
    #[serde(rename = "GroupId")]
    group_id: String,
    #[serde(rename = "NewOwner_Account")]
    new_owner_account: String,
}

pub async fn change_group_owner(state: AppState, _: Caller, req: ChangeOwnerRequest) -> ApiResult<Empty> {
    state.tx(move |c| groups::change_owner(c, &req.group_id, &req.new_owner_account)).await?;
    Ok(Empty {})
}
