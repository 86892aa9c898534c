//! Passkeys (WebAuthn), verified by `webauthn-rs`: this module is the only one that knows its
//! types. The use cases see JSON (options to send, state to store, credentials to keep) and
//! plain outcomes; what the library checks — the origin, the relying-party id's hash, the
//! challenge, the signature, user verification, the signature counter — it checks here.
//!
//! The relying party is one origin: `LATCHKEY_PUBLIC_URL`, or `http://localhost:PORT` for a
//! server on a loopback address. WebAuthn refuses IP addresses as relying-party ids, so an
//! origin such as `http://127.0.0.1:8080` cannot have passkeys ([`RelyingParty::new`] says why).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use url::Url;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Uuid, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// The relying party: this server's origin and the verifier for it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    webauthn: std::sync::Arc<Webauthn>,
    origin: String,
}

/// A credential the browser created, verified and ready to store.
#[derive(Debug)]
pub struct NewCredential {
    /// base64url, unique across all users.
    pub credential_id: String,
    /// The library's `Passkey` as JSON: what [`RelyingParty`] reads back later.
    pub stored: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backed_up: bool,
}

/// An assertion (the browser's answer to a sign-in) as parsed, before it is verified.
#[derive(Debug)]
pub struct Assertion(PublicKeyCredential);

impl Assertion {
    /// The credential's id, base64url (as stored).
    pub fn credential_id(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.get_credential_id())
    }

    /// The user handle a discoverable credential returns, as stored (a hyphenated UUID).
    pub fn user_handle(&self) -> Option<String> {
        let bytes = self.0.get_user_unique_id()?;
        Uuid::from_slice(bytes)
            .ok()
            .map(|u| u.hyphenated().to_string())
    }
}

/// A verified use: what changes in the stored credential.
#[derive(Debug)]
pub struct Verified {
    /// base64url id of the credential used.
    pub credential_id: String,
    /// The stored credential with its new counter and backup state, when either changed.
    pub stored: Option<String>,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backed_up: bool,
}

/// Why an answer was refused.
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    /// The signature counter did not move forward: the credential may have been cloned.
    #[error("the signature counter went back: the credential may be cloned")]
    CounterRegressed,
    /// Wrong origin, relying party, challenge or signature; no user verification; an
    /// unsupported key; a credential that is not the one expected.
    #[error("{0}")]
    Invalid(String),
}

impl From<WebauthnError> for Rejected {
    fn from(e: WebauthnError) -> Self {
        match e {
            WebauthnError::CredentialPossibleCompromise => Self::CounterRegressed,
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl RelyingParty {
    /// The relying party of `origin` (`scheme://host[:port]`) with `rp_id` its host. An IP
    /// address, or an origin that is neither https nor `localhost`, cannot have passkeys: the
    /// error says what to set instead.
    pub fn new(origin: &str, rp_id: &str, name: &str) -> Result<Self, String> {
        let url = Url::parse(origin).map_err(|e| format!("{origin} is not a URL: {e}"))?;
        if url.domain().is_none() {
            return Err(format!(
                "{origin} is an IP address, and WebAuthn refuses IP addresses as relying-party \
                 ids: open the service at a name (http://localhost:PORT on this machine) and set \
                 LATCHKEY_PUBLIC_URL to it"
            ));
        }
        if url.scheme() != "https" && rp_id != "localhost" {
            return Err(format!(
                "{origin} is not https: browsers allow passkeys only on https origins and on \
                 http://localhost; set LATCHKEY_PUBLIC_URL to the https address users open"
            ));
        }
        let webauthn = WebauthnBuilder::new(rp_id, &url)
            .and_then(|b| b.rp_name(name).build())
            .map_err(|e| format!("passkeys cannot use {origin} (relying party {rp_id}): {e}"))?;
        Ok(Self {
            webauthn: std::sync::Arc::new(webauthn),
            origin: url.origin().ascii_serialization(),
        })
    }

    /// The one origin whose answers are accepted.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Options for `navigator.credentials.create()` and the state to keep until the finish.
    /// A discoverable credential is preferred (so it can sign in without a name); user
    /// verification is required; `existing` (stored credentials) are excluded, so one
    /// authenticator is not registered twice.
    pub fn start_registration(
        &self,
        handle: &str,
        username: &str,
        existing: &[String],
    ) -> anyhow::Result<(Value, String)> {
        let handle = Uuid::parse_str(handle)?;
        let exclude = existing
            .iter()
            .map(|stored| Ok(serde_json::from_str::<Passkey>(stored)?.cred_id().clone()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (options, state) = self.webauthn.start_passkey_registration(
            handle,
            username,
            username,
            Some(exclude).filter(|e| !e.is_empty()),
        )?;
        let mut options = serde_json::to_value(options)?;
        // The library asks for a non-discoverable credential ("discouraged"): ask for a
        // discoverable one where the authenticator can keep it. The state checks nothing of
        // this (discoverability cannot be verified), so the options may differ here.
        if let Some(selection) = options["publicKey"]["authenticatorSelection"].as_object_mut() {
            selection.insert("residentKey".to_owned(), Value::from("preferred"));
        }
        Ok((options, serde_json::to_string(&state)?))
    }

    /// Verifies the browser's answer to a registration against the state kept since its start.
    pub fn finish_registration(
        &self,
        state: &str,
        credential: RegistrationResponse,
    ) -> Result<NewCredential, Rejected> {
        let state: PasskeyRegistration = serde_json::from_str(state)
            .map_err(|e| Rejected::Invalid(format!("stored registration state: {e}")))?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&credential.0, &state)?;
        let stored = serde_json::to_string(&passkey)
            .map_err(|e| Rejected::Invalid(format!("storing the credential: {e}")))?;
        let facts = CredentialFacts::of(&stored);
        Ok(NewCredential {
            credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            stored,
            sign_count: facts.counter,
            backup_eligible: facts.backup_eligible,
            backed_up: facts.backed_up,
        })
    }

    /// Options for a sign-in without a name (a discoverable credential; also what passkey
    /// autofill uses) and the state to keep.
    pub fn start_login(&self) -> anyhow::Result<(Value, String)> {
        let (options, state) = self.webauthn.start_discoverable_authentication()?;
        Ok((
            serde_json::to_value(options)?,
            serde_json::to_string(&state)?,
        ))
    }

    /// Verifies a sign-in without a name against its state and the stored credential the
    /// assertion names.
    pub fn finish_login(
        &self,
        state: &str,
        assertion: &Assertion,
        stored: &str,
    ) -> Result<Verified, Rejected> {
        let state: DiscoverableAuthentication = serde_json::from_str(state)
            .map_err(|e| Rejected::Invalid(format!("stored sign-in state: {e}")))?;
        let passkey: Passkey = serde_json::from_str(stored)
            .map_err(|e| Rejected::Invalid(format!("stored credential: {e}")))?;
        let key = DiscoverableKey::from(&passkey);
        let result =
            self.webauthn
                .finish_discoverable_authentication_v2(&assertion.0, state, &key)?;
        Ok(verified(passkey, &result))
    }

    /// Options for the second step of a login with a password: one of `stored` (the user's
    /// credentials) must answer.
    pub fn start_second_step(&self, stored: &[String]) -> anyhow::Result<(Value, String)> {
        let passkeys = stored
            .iter()
            .map(|s| serde_json::from_str::<Passkey>(s))
            .collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self.webauthn.start_passkey_authentication(&passkeys)?;
        Ok((
            serde_json::to_value(options)?,
            serde_json::to_string(&state)?,
        ))
    }

    /// Verifies the second step's assertion; `stored` is the credential the assertion names
    /// (it must be one of those the options allowed).
    pub fn finish_second_step(
        &self,
        state: &str,
        assertion: &Assertion,
        stored: &str,
    ) -> Result<Verified, Rejected> {
        let state: PasskeyAuthentication = serde_json::from_str(state)
            .map_err(|e| Rejected::Invalid(format!("stored second-step state: {e}")))?;
        let passkey: Passkey = serde_json::from_str(stored)
            .map_err(|e| Rejected::Invalid(format!("stored credential: {e}")))?;
        let result = self
            .webauthn
            .finish_passkey_authentication(&assertion.0, &state)?;
        if result.cred_id() != passkey.cred_id() {
            return Err(Rejected::Invalid("another credential answered".to_owned()));
        }
        Ok(verified(passkey, &result))
    }
}

/// The updated stored credential after a verified use.
fn verified(mut passkey: Passkey, result: &webauthn_rs::prelude::AuthenticationResult) -> Verified {
    let changed = passkey.update_credential(result).unwrap_or(false);
    let stored = changed
        .then(|| serde_json::to_string(&passkey).ok())
        .flatten();
    Verified {
        credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
        stored,
        sign_count: i64::from(result.counter()),
        backup_eligible: result.backup_eligible(),
        backed_up: result.backup_state(),
    }
}

/// What a stored credential says of its counter and backup state. The library keeps these
/// private (they are in its JSON), and the listing and the counter's guard in the database need
/// them.
struct CredentialFacts {
    counter: i64,
    backup_eligible: bool,
    backed_up: bool,
}

impl CredentialFacts {
    fn of(stored: &str) -> Self {
        let json: Value = serde_json::from_str(stored).unwrap_or(Value::Null);
        let cred = &json["cred"];
        Self {
            counter: cred["counter"].as_i64().unwrap_or(0),
            backup_eligible: cred["backup_eligible"].as_bool().unwrap_or(false),
            backed_up: cred["backup_state"].as_bool().unwrap_or(false),
        }
    }
}

/// A registration answer as parsed, before it is verified.
#[derive(Debug)]
pub struct RegistrationResponse(RegisterPublicKeyCredential);

/// Reads the browser's answer to `navigator.credentials.create()` in the JSON form browsers give
/// (`PublicKeyCredential.toJSON()`); the error says what is wrong with it.
pub fn parse_registration(value: Value) -> Result<RegistrationResponse, String> {
    serde_json::from_value(value)
        .map(RegistrationResponse)
        .map_err(|e| format!("not a WebAuthn registration response: {e}"))
}

/// Reads the browser's answer to `navigator.credentials.get()`, as for
/// [`parse_registration`].
pub fn parse_assertion(value: Value) -> Result<Assertion, String> {
    serde_json::from_value(value)
        .map(Assertion)
        .map_err(|e| format!("not a WebAuthn assertion: {e}"))
}
