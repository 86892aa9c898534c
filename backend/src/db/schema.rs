// @generated automatically by Diesel CLI.

diesel::table! {
    events (id) {
        id -> Integer,
        user_id -> Integer,
        kind -> Text,
        at -> BigInt,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        detail -> Nullable<Text>,
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
    passkeys (id) {
        id -> Integer,
        public_id -> Text,
        user_id -> Integer,
        credential_id -> Text,
        credential -> Text,
        name -> Text,
        sign_count -> BigInt,
        backup_eligible -> Bool,
        backed_up -> Bool,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    pending_logins (id) {
        id -> Integer,
        token_hash -> Text,
        user_id -> Integer,
        remember -> Bool,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> Integer,
        user_id -> Integer,
        code_hash -> Text,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
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
    totp_factors (user_id) {
        user_id -> Integer,
        secret_sealed -> Binary,
        created_at -> BigInt,
        confirmed_at -> Nullable<BigInt>,
        last_used_step -> Nullable<BigInt>,
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
        webauthn_handle -> Nullable<Text>,
    }
}

diesel::table! {
    webauthn_ceremonies (id) {
        id -> Integer,
        token_hash -> Text,
        kind -> Text,
        user_id -> Nullable<Integer>,
        state -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(events -> users (user_id));
diesel::joinable!(passkeys -> users (user_id));
diesel::joinable!(pending_logins -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(totp_factors -> users (user_id));
diesel::joinable!(webauthn_ceremonies -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    events,
    login_throttles,
    passkeys,
    pending_logins,
    recovery_codes,
    sessions,
    totp_factors,
    users,
    webauthn_ceremonies,
);
