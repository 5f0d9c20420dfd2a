// @generated automatically by Diesel CLI.

diesel::table! {
    accounts (user_id) {
        user_id -> Text,
        nick -> Text,
        face_url -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        at -> Timestamptz,
        actor -> Text,
        via -> Text,
        action -> Text,
        target -> Text,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
    }
}

diesel::table! {
    c2c_messages (id) {
        id -> Int8,
        msg_key -> Text,
        from_account -> Text,
        to_account -> Text,
        msg_seq -> Int8,
        msg_random -> Int8,
        msg_time -> Int8,
        msg_body -> Json,
        cloud_custom_data -> Text,
        need_receipt -> Bool,
        counts_unread -> Bool,
        delivered_at -> Nullable<Timestamptz>,
        peer_read_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        recalled_at -> Nullable<Timestamptz>,
        all_read_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    c2c_read_state (reader, peer) {
        reader -> Text,
        peer -> Text,
        read_time -> Int8,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    console_sessions (token_hash) {
        token_hash -> Text,
        identifier -> Text,
        csrf_token -> Text,
        flash -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    console_signin_failures (id) {
        id -> Int8,
        client_ip -> Text,
        at -> Timestamptz,
    }
}

diesel::table! {
    group_members (id) {
        id -> Int8,
        group_id -> Text,
        user_id -> Text,
        role -> Text,
        join_seq -> Int8,
        leave_seq -> Nullable<Int8>,
        read_seq -> Int8,
        joined_at -> Timestamptz,
        left_at -> Nullable<Timestamptz>,
        name_card -> Text,
        msg_flag -> Text,
        shut_up_until -> Int8,
        last_send_msg_time -> Int8,
    }
}

diesel::table! {
    group_messages (group_id, msg_seq) {
        group_id -> Text,
        msg_seq -> Int8,
        from_account -> Text,
        msg_random -> Int8,
        msg_time -> Int8,
        msg_body -> Json,
        cloud_custom_data -> Text,
        need_receipt -> Bool,
        eligible_count -> Int4,
        read_count -> Int4,
        delivered_count -> Int4,
        created_at -> Timestamptz,
        recalled_at -> Nullable<Timestamptz>,
        msg_priority -> Int2,
        read_threshold -> Nullable<Int2>,
        departed_unread -> Int4,
    }
}

diesel::table! {
    group_receipts (group_id, msg_seq, reader) {
        group_id -> Text,
        msg_seq -> Int8,
        reader -> Text,
        delivered_at -> Timestamptz,
        read_at -> Nullable<Timestamptz>,
        ack_content -> Nullable<Text>,
        private -> Bool,
        txid -> Int8,
    }
}

diesel::table! {
    groups (group_id) {
        group_id -> Text,
        group_type -> Text,
        name -> Text,
        owner_account -> Nullable<Text>,
        introduction -> Text,
        notification -> Text,
        face_url -> Text,
        max_member_count -> Int4,
        apply_join_option -> Text,
        last_seq -> Int8,
        member_count -> Int4,
        created_at -> Timestamptz,
        info_seq -> Int8,
        info_updated_at -> Timestamptz,
        last_msg_time -> Int8,
        shut_up_all_member -> Bool,
    }
}

diesel::table! {
    receipt_config (id) {
        id -> Int2,
        group_types -> Array<Nullable<Text>>,
        request_roles -> Text,
        max_group_members -> Int4,
        updated_at -> Timestamptz,
        event_feed -> Bool,
        event_feed_retention_secs -> Int4,
        group_read_threshold -> Jsonb,
        group_read_deadline -> Jsonb,
    }
}

diesel::table! {
    receipt_privacy (user_id) {
        user_id -> Text,
        private -> Bool,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    retention_state (family) {
        family -> Text,
        purged_through -> Int8,
        rows_removed -> Int8,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    user_events (id) {
        id -> Int8,
        txid -> Int8,
        user_id -> Text,
        event_type -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Int8,
        delivery_id -> Int8,
        attempt_no -> Int4,
        manual -> Bool,
        started_at -> Timestamptz,
        latency_ms -> Int4,
        status_code -> Nullable<Int4>,
        error -> Nullable<Text>,
        response_prefix -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Int8,
        event_id -> Int8,
        endpoint_id -> Int8,
        state -> Int2,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        lease_until -> Nullable<Timestamptz>,
        lease_token -> Nullable<Int8>,
        last_status -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Int8,
        url -> Text,
        events -> Nullable<Array<Nullable<Text>>>,
        token -> Nullable<Text>,
        secret -> Text,
        prev_secret -> Nullable<Text>,
        prev_secret_expires_at -> Nullable<Timestamptz>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        timeout_ms -> Int4,
        max_in_flight -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Int8,
        public_id -> Text,
        event_type -> Text,
        body -> Bytea,
        created_at -> Timestamptz,
        client_ip -> Text,
        opt_platform -> Text,
        feed -> Bool,
    }
}

diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(group_messages -> groups (group_id));
diesel::joinable!(receipt_privacy -> accounts (user_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> webhook_events (event_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    audit_log,
    c2c_messages,
    c2c_read_state,
    console_sessions,
    console_signin_failures,
    group_members,
    group_messages,
    group_receipts,
    groups,
    receipt_config,
    receipt_privacy,
    retention_state,
    user_events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
);
