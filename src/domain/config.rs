//! Console-style receipt configuration (one row per server).

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::PgConnection;

use crate::db::schema::receipt_config;
use crate::error::{ApiError, ApiResult};

/// Group types whose receipts can be switched on.
pub const RECEIPT_CAPABLE_TYPES: [&str; 3] = ["Private", "Public", "ChatRoom"];

/// The receipt settings in force.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptConfig {
    /// Group types with receipts on (canonical names).
    pub group_types: Vec<String>,
    /// `Any` or `OwnerAndAdmin`: who may send a message with NeedReadReceipt.
    pub request_roles: String,
    /// Largest group in which a message may request receipts.
    pub max_group_members: i32,
    /// Default `ReadThresholdPercent` per group type (canonical names; absent = none).
    pub group_read_threshold: BTreeMap<String, i16>,
    /// Whether events are also kept for `receipt_svc/get_receipt_events`.
    pub event_feed: bool,
    /// How long the feed keeps an event, in seconds.
    pub event_feed_retention_secs: i32,
    /// Default `ReadDeadlineSeconds` per group type (canonical names; absent = none).
    pub group_read_deadline: BTreeMap<String, i32>,
}

/// A partial update of [`ReceiptConfig`].
#[derive(Debug, Default, Clone)]
pub struct ConfigUpdate {
    pub group_types: Option<Vec<String>>,
    pub request_roles: Option<String>,
    pub max_group_members: Option<i64>,
    /// Replaces the whole map; a percent of 0 removes a type's default.
    pub group_read_threshold: Option<BTreeMap<String, i64>>,
    pub event_feed: Option<bool>,
    pub event_feed_retention_secs: Option<i64>,
    /// `GroupReadDeadlineSeconds`: replaces all per-type defaults (a JSON object).
    pub group_read_deadline: Option<serde_json::Value>,
}

/// One setting that an update changed: its field name and old and new values as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingChange {
    /// The REST field name, e.g. `GroupReceiptTypes`.
    pub field: &'static str,
    /// Before.
    pub old: String,
    /// After.
    pub new: String,
}

/// The settings that differ between `old` and `new` (group types compared as sets).
pub fn changes(old: &ReceiptConfig, new: &ReceiptConfig) -> Vec<SettingChange> {
    let types = |c: &ReceiptConfig| {
        // Listed in the console's order so the same set always reads the same.
        let list: Vec<&str> =
            RECEIPT_CAPABLE_TYPES.into_iter().filter(|t| c.group_types.iter().any(|g| g == t)).collect();
        if list.is_empty() {
            "none".to_string()
        } else {
            list.join(", ")
        }
    };
    let mut out = Vec::new();
    if types(old) != types(new) {
        out.push(SettingChange { field: "GroupReceiptTypes", old: types(old), new: types(new) });
    }
    if old.request_roles != new.request_roles {
        out.push(SettingChange {
            field: "GroupReceiptRequestRoles",
            old: old.request_roles.clone(),
            new: new.request_roles.clone(),
        });
    }
    if old.max_group_members != new.max_group_members {
        out.push(SettingChange {
            field: "MaxReceiptGroupMembers",
            old: old.max_group_members.to_string(),
            new: new.max_group_members.to_string(),
        });
    }
    let thresholds = |c: &ReceiptConfig| serde_json::to_string(&c.group_read_threshold).unwrap_or_default();
    if old.group_read_threshold != new.group_read_threshold {
        out.push(SettingChange { field: "GroupReadThresholdPercent", old: thresholds(old), new: thresholds(new) });
    }
    if old.event_feed != new.event_feed {
        out.push(SettingChange {
            field: "EventFeed",
            old: u8::from(old.event_feed).to_string(),
            new: u8::from(new.event_feed).to_string(),
        });
    }
    if old.event_feed_retention_secs != new.event_feed_retention_secs {
        out.push(SettingChange {
            field: "EventFeedRetentionSeconds",
            old: old.event_feed_retention_secs.to_string(),
            new: new.event_feed_retention_secs.to_string(),
        });
    }
    if old.group_read_deadline != new.group_read_deadline {
        let text = |c: &ReceiptConfig| serde_json::to_string(&c.group_read_deadline).unwrap_or_default();
        out.push(SettingChange { field: "GroupReadDeadlineSeconds", old: text(old), new: text(new) });
    }
    out
}

/// [`update`], recording each changed setting in the audit log as made by `actor`; returns the
/// new configuration and what changed (nothing is recorded for an update that changes nothing).
pub fn update_audited(
    conn: &mut PgConnection,
    u: ConfigUpdate,
    actor: &str,
    via: super::audit::Via,
) -> ApiResult<(ReceiptConfig, Vec<SettingChange>)> {
    // Locked so two concurrent saves each record the old value they really replaced.
    receipt_config::table.select(receipt_config::id).for_update().load::<i16>(conn)?;
    let old = load(conn)?;
    let new = update(conn, u)?;
    let changed = changes(&old, &new);
    for c in &changed {
        super::audit::record(
            conn,
            &super::audit::Change {
                actor,
                via,
                action: "receipt_config.update",
                target: c.field,
                old: Some(&c.old),
                new: Some(&c.new),
            },
        )?;
    }
    Ok((new, changed))
}

/// Reads the configuration.
pub fn load(conn: &mut PgConnection) -> ApiResult<ReceiptConfig> {
    type Row = (Vec<Option<String>>, String, i32, serde_json::Value, bool, i32, serde_json::Value);
    let (types, roles, max, thresholds, feed, feed_secs, deadlines): Row = receipt_config::table
        .select((
            receipt_config::group_types,
            receipt_config::request_roles,
            receipt_config::max_group_members,
            receipt_config::group_read_threshold,
            receipt_config::event_feed,
            receipt_config::event_feed_retention_secs,
            receipt_config::group_read_deadline,
        ))
        .first(conn)?;
    Ok(ReceiptConfig {
        group_types: types.into_iter().flatten().collect(),
        request_roles: roles,
        max_group_members: max,
        // Written only by `update`, which stores a type → 1..=100 object.
        group_read_threshold: serde_json::from_value(thresholds).unwrap_or_default(),
        event_feed: feed,
        event_feed_retention_secs: feed_secs,
        // Written only by `update`, which validated it.
        group_read_deadline: serde_json::from_value(deadlines).unwrap_or_default(),
    })
}

/// Validates and applies a partial update; returns the new configuration.
pub fn update(conn: &mut PgConnection, u: ConfigUpdate) -> ApiResult<ReceiptConfig> {
    let mut cfg = load(conn)?;
    if let Some(types) = u.group_types {
        // Five types and two aliases: a longer list can only repeat itself.
        if types.len() > 8 {
            return Err(ApiError::invalid(format!(
                "GroupReceiptTypes has {} entries; name each group type at most once (at most 8 entries)",
                types.len()
            )));
        }
        let mut canon: Vec<String> = Vec::new();
        for t in &types {
            let c = super::groups::canonical_type(t)?;
            if !RECEIPT_CAPABLE_TYPES.contains(&c) {
                return Err(ApiError::invalid(format!(
                    "read receipts cannot be enabled for {c} groups; only Private (Work), Public and ChatRoom (Meeting) support them"
                )));
            }
            if !canon.iter().any(|x| x == c) {
                canon.push(c.to_string());
            }
        }
        cfg.group_types = canon;
    }
    if let Some(r) = u.request_roles {
        if r != "Any" && r != "OwnerAndAdmin" {
            return Err(ApiError::invalid(format!("GroupReceiptRequestRoles {r:?} must be Any or OwnerAndAdmin")));
        }
        cfg.request_roles = r;
    }
    if let Some(m) = u.max_group_members {
        if !(1..=1_000_000).contains(&m) {
            return Err(ApiError::invalid(format!("MaxReceiptGroupMembers {m} must be between 1 and 1000000")));
        }
        cfg.max_group_members = m as i32;
    }
    if let Some(map) = u.group_read_threshold {
        let mut out = BTreeMap::new();
        for (t, pct) in map {
            let c = super::groups::canonical_type(&t)?;
            if !(0..=100).contains(&pct) {
                return Err(ApiError::invalid(format!(
                    "GroupReadThresholdPercent[{t:?}] is {pct}; give a percent between 1 and 100, or 0 for none"
                )));
            }
            if pct > 0 {
                out.insert(c.to_string(), pct as i16);
            }
        }
        cfg.group_read_threshold = out;
    }
    if let Some(on) = u.event_feed {
        cfg.event_feed = on;
    }
    if let Some(secs) = u.event_feed_retention_secs {
        if !(60..=31_536_000).contains(&secs) {
            return Err(ApiError::invalid(format!(
                "EventFeedRetentionSeconds {secs} must be between 60 (a minute) and 31536000 (a year)"
            )));
        }
        cfg.event_feed_retention_secs = secs as i32;
    }
    if let Some(d) = u.group_read_deadline {
        cfg.group_read_deadline = super::read_deadlines::parse_type_defaults(&d)?;
    }
    diesel::update(receipt_config::table)
        .set((
            receipt_config::group_types.eq(cfg.group_types.iter().cloned().map(Some).collect::<Vec<_>>()),
            receipt_config::request_roles.eq(&cfg.request_roles),
            receipt_config::max_group_members.eq(cfg.max_group_members),
            receipt_config::group_read_threshold.eq(serde_json::to_value(&cfg.group_read_threshold)?),
            receipt_config::event_feed.eq(cfg.event_feed),
            receipt_config::event_feed_retention_secs.eq(cfg.event_feed_retention_secs),
            receipt_config::group_read_deadline.eq(serde_json::to_value(&cfg.group_read_deadline)?),
            receipt_config::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(cfg)
}

impl ReceiptConfig {
    /// The operators' default `ReadThresholdPercent` for messages in `group_type` groups.
    pub fn default_threshold(&self, group_type: &str) -> Option<i16> {
        self.group_read_threshold.get(group_type).copied()
    }

    /// Fails with 19001 (and how to fix it) when receipts are off for `group_type`.
    pub fn require_enabled(&self, group_type: &str, group_id: &str) -> ApiResult<()> {
        require_type_enabled(&self.group_types, group_type, group_id)
    }
}

/// Fails with 19001 (and how to fix it) unless `group_type` is among `enabled`.
pub fn require_type_enabled(enabled: &[String], group_type: &str, group_id: &str) -> ApiResult<()> {
    if enabled.iter().any(|t| t == group_type) {
        return Ok(());
    }
    let hint = if RECEIPT_CAPABLE_TYPES.contains(&group_type) {
        let mut wanted = enabled.to_vec();
        wanted.push(group_type.to_string());
        format!(
            "enable them with receipt_svc/set_receipt_config {{\"GroupReceiptTypes\":{}}}",
            serde_json::to_string(&wanted).unwrap_or_default()
        )
    } else {
        format!("{group_type} groups do not support read receipts")
    };
    Err(ApiError::ReceiptsDisabled(format!(
        "read receipts are disabled for {group_type} groups (group {group_id:?}); {hint}"
    )))
}
