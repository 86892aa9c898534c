//! The security events a user sees in their activity list, and where a request came from.

use serde::Serialize;
use utoipa::ToSchema;

/// What happened. Stored as its snake_case name; the API shows the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Registered,
    Login,
    /// A wrong password: at login, or when an account change re-checked it.
    LoginFailed,
    Logout,
    PasswordChanged,
    SessionRevoked,
    SessionsRevoked,
    /// The authenticator-app factor was turned on (enrolment confirmed).
    SecondFactorEnabled,
    /// The authenticator-app factor was turned off by the user.
    SecondFactorDisabled,
    /// An administrator removed the second factor (a lost device).
    SecondFactorReset,
    /// New recovery codes replaced the old ones.
    RecoveryCodesRegenerated,
    /// A recovery code completed a login (the detail says how many remain).
    RecoveryCodeUsed,
    /// A wrong, replayed or malformed code at the login's second step.
    SecondFactorFailed,
    /// A passkey was registered (the detail is its name).
    PasskeyAdded,
    /// A passkey was removed by the user.
    PasskeyRemoved,
    /// A passkey got a new name (the detail is the new name).
    PasskeyRenamed,
    /// A passkey completed a sign-in or a second step (the detail is its name).
    PasskeyUsed,
    /// A passkey answered with a signature counter that did not move forward: the credential
    /// may have been copied. The answer was refused.
    PasskeyCounterRegressed,
}

impl EventKind {
    pub const ALL: [Self; 18] = [
        Self::Registered,
        Self::Login,
        Self::LoginFailed,
        Self::Logout,
        Self::PasswordChanged,
        Self::SessionRevoked,
        Self::SessionsRevoked,
        Self::SecondFactorEnabled,
        Self::SecondFactorDisabled,
        Self::SecondFactorReset,
        Self::RecoveryCodesRegenerated,
        Self::RecoveryCodeUsed,
        Self::SecondFactorFailed,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::PasskeyRenamed,
        Self::PasskeyUsed,
        Self::PasskeyCounterRegressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::Logout => "logout",
            Self::PasswordChanged => "password_changed",
            Self::SessionRevoked => "session_revoked",
            Self::SessionsRevoked => "sessions_revoked",
            Self::SecondFactorEnabled => "second_factor_enabled",
            Self::SecondFactorDisabled => "second_factor_disabled",
            Self::SecondFactorReset => "second_factor_reset",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::PasskeyRenamed => "passkey_renamed",
            Self::PasskeyUsed => "passkey_used",
            Self::PasskeyCounterRegressed => "passkey_counter_regressed",
        }
    }

    /// The kind a stored name stands for; `None` for a name this version does not know.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Where a request came from, as recorded with events and sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Origin {
    /// How administrator actions appear in the user's activity.
    pub fn admin_command_line() -> Self {
        Self {
            ip: None,
            user_agent: Some("latchkey admin command line".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).expect("json");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(EventKind::parse("nonsense"), None);
    }
}
