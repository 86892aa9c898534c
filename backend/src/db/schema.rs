// @generated automatically by Diesel CLI.

diesel::table! {
    events (id) {
        id -> Integer,
        user_id -> Integer,
        kind -> Text,
        at -> BigInt,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    login_throttles (username_key) {
        username_key -> Text,
        failures -> Integer,
        locked_until_ms -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> Integer,
        public_id -> Text,
        key_hash -> Text,
        user_id -> Integer,
        remember -> Bool,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        logged_in_at -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Integer,
        username -> Text,
        username_key -> Text,
        password_hash -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        username_skeleton -> Nullable<Text>,
    }
}

diesel::joinable!(events -> users (user_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(events, login_throttles, sessions, users,);
