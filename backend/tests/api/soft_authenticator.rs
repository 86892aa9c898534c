//! A software WebAuthn authenticator *and* the browser glue around it, for black-box API tests
//! of a passkey server. It takes the options JSON the server sends (`{"publicKey": {...}}`) and
//! returns what a browser's `PublicKeyCredential.toJSON()` would POST back, so a test drives the
//! server's HTTP API exactly like a real client would.
//!
//! Deliberately not a browser: it does NOT check that the origin belongs to the rp id, so a test
//! can send a wrong origin (phishing relay) and see the *server* reject it.
//!
//! Negative cases, all by plain field edits or by editing the options JSON before answering:
//! - UV off: `auth.user_verified = false` (UP off: `auth.user_present = false`).
//! - counter regression: `auth.credentials[i].sign_count = n` (or clone the authenticator and use
//!   both copies, like a cloned key); `auth.increment_sign_count = false` freezes the counter.
//! - wrong challenge: answer the options of one ceremony and finish another, or edit
//!   `options["publicKey"]["challenge"]` (a base64url string) before calling `create`/`get`.
//! - wrong origin: pass another `origin` argument. Wrong rp id: edit `rp.id` / `rpId`.
//! - backup flags: `backup_eligible` / `backup_state` apply to credentials created afterwards;
//!   change `credentials[i].backup_eligible` later to simulate an inconsistent device.
//!
//! Only ES256 (P-256) credentials with "none" attestation are made; every credential is kept, so
//! every credential is discoverable (like a platform authenticator or password manager).

// Copied into test crates as a private module, where any knob a crate does not use would be a
// dead-code warning (an error under `-D warnings`).
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

// authenticatorData flag bits (WebAuthn §6.1).
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;
const FLAG_AT: u8 = 0x40;
/// COSE algorithm id of ES256 (ECDSA P-256 with SHA-256).
const COSE_ES256: i64 = -7;

/// One credential held by the authenticator.
#[derive(Clone, Debug)]
pub struct SoftCredential {
    pub id: Vec<u8>,
    pub rp_id: String,
    /// `user.id` from the creation options, returned as `userHandle` by `get`.
    pub user_handle: Vec<u8>,
    key: SigningKey,
    /// Last counter value used; `get` increments it first (if `increment_sign_count`).
    pub sign_count: u32,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

/// Authenticator state plus the knobs negative tests turn. `Clone` gives a cloned device.
#[derive(Clone, Debug)]
pub struct SoftAuthenticator {
    pub credentials: Vec<SoftCredential>,
    /// UP flag in every response (default true).
    pub user_present: bool,
    /// UV flag in every response (default true; passkey servers require it).
    pub user_verified: bool,
    /// BE / BS flags given to credentials created from now on (default false: device-bound).
    pub backup_eligible: bool,
    pub backup_state: bool,
    /// Counter value of new credentials (default 0).
    pub initial_sign_count: u32,
    /// Whether `get` bumps the counter (default true; synced passkeys often keep 0).
    pub increment_sign_count: bool,
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftAuthenticator {
    pub fn new() -> Self {
        Self {
            credentials: Vec::new(),
            user_present: true,
            user_verified: true,
            backup_eligible: false,
            backup_state: false,
            initial_sign_count: 0,
            increment_sign_count: true,
        }
    }

    /// Answers `navigator.credentials.create(options)`; panics where a browser would reject.
    pub fn create(&mut self, options: &Value, origin: &str) -> Value {
        self.try_create(options, origin)
            .expect("soft authenticator: create() failed")
    }

    /// Answers `navigator.credentials.get(options)`; panics where a browser would reject.
    pub fn get(&mut self, options: &Value, origin: &str) -> Value {
        self.try_get(options, origin)
            .expect("soft authenticator: get() failed")
    }

    /// `create` that returns the browser's DOMException name instead of panicking.
    pub fn try_create(&mut self, options: &Value, origin: &str) -> Result<Value, String> {
        let pk = &options["publicKey"];
        let rp_id = pk["rp"]["id"]
            .as_str()
            .map_or_else(|| host_of(origin), str::to_owned);
        let challenge = b64_field(&pk["challenge"], "publicKey.challenge")?;
        let user_handle = b64_field(&pk["user"]["id"], "publicKey.user.id")?;

        // Only ES256 is implemented; an authenticator that cannot meet pubKeyCredParams fails.
        let mut algs = pk["pubKeyCredParams"].as_array().into_iter().flatten();
        if !algs.any(|p| p["alg"].as_i64() == Some(COSE_ES256)) {
            return Err("NotSupportedError: ES256 (-7) not in pubKeyCredParams".into());
        }
        // Like a real authenticator: refuse to create a second credential for an excluded one.
        let excluded = b64_ids(&pk["excludeCredentials"])?;
        let held = |k: &SoftCredential| k.rp_id == rp_id && excluded.contains(&k.id);
        if self.credentials.iter().any(held) {
            return Err("InvalidStateError: authenticator holds an excluded credential".into());
        }

        let key = SigningKey::generate();
        let id = <[u8; 32]>::generate().to_vec();
        let cred = SoftCredential {
            id: id.clone(),
            rp_id,
            user_handle,
            key,
            sign_count: self.initial_sign_count,
            backup_eligible: self.backup_eligible,
            backup_state: self.backup_state,
        };

        // authData = rpIdHash | flags | signCount | attestedCredentialData (WebAuthn §6.1, §6.5.1).
        let mut auth_data = self.auth_data_head(&cred, FLAG_AT);
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: all zero, as with "none" attestation
        let id_len = u16::try_from(id.len()).expect("credential id fits in u16");
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose_es256_key(&cred.key));

        // attestationObject = {"fmt": "none", "attStmt": {}, "authData": bytes}, keys in CTAP2
        // canonical order (shorter key first).
        let mut att = Vec::new();
        cbor_head(&mut att, 5, 3);
        cbor_text(&mut att, "fmt");
        cbor_text(&mut att, "none");
        cbor_text(&mut att, "attStmt");
        cbor_head(&mut att, 5, 0);
        cbor_text(&mut att, "authData");
        cbor_bytes(&mut att, &auth_data);

        let client_data = client_data_json("webauthn.create", &challenge, origin);
        self.credentials.push(cred);
        Ok(credential_json(
            &id,
            json!({
                "clientDataJSON": b64(client_data.as_bytes()),
                "attestationObject": b64(&att),
                "transports": ["internal"],
            }),
        ))
    }

    /// `get` that returns the browser's DOMException name instead of panicking.
    ///
    /// With a non-empty `allowCredentials` only those ids qualify; with none (discoverable /
    /// conditional UI) any credential of the rp does. Of several, the newest is used (a browser
    /// would ask the user); remove entries from `credentials` to steer the choice.
    pub fn try_get(&mut self, options: &Value, origin: &str) -> Result<Value, String> {
        let pk = &options["publicKey"];
        let rp_id = pk["rpId"]
            .as_str()
            .map_or_else(|| host_of(origin), str::to_owned);
        let challenge = b64_field(&pk["challenge"], "publicKey.challenge")?;
        let allow = b64_ids(&pk["allowCredentials"])?;

        let idx = self
            .credentials
            .iter()
            .rposition(|c| c.rp_id == rp_id && (allow.is_empty() || allow.contains(&c.id)))
            .ok_or_else(|| format!("NotAllowedError: no credential for rp id {rp_id:?}"))?;
        if self.increment_sign_count {
            let c = &mut self.credentials[idx];
            c.sign_count = c.sign_count.wrapping_add(1);
        }
        let cred = &self.credentials[idx];
        let auth_data = self.auth_data_head(cred, 0);
        let client_data = client_data_json("webauthn.get", &challenge, origin);

        // The assertion signs authenticatorData || SHA-256(clientDataJSON); `sign` hashes that
        // message with SHA-256 itself, as ES256 requires. WebAuthn wants the DER form.
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        let signature: Signature = cred.key.sign(&signed);

        Ok(credential_json(
            &cred.id,
            json!({
                "clientDataJSON": b64(client_data.as_bytes()),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": b64(&cred.user_handle),
            }),
        ))
    }

    /// The credential with this id, to turn its knobs (e.g. set `sign_count` back).
    pub fn credential_mut(&mut self, id: &[u8]) -> Option<&mut SoftCredential> {
        self.credentials.iter_mut().find(|c| c.id == id)
    }

    /// First 37 bytes of authenticatorData: SHA-256(rp id), flags, big-endian sign count.
    fn auth_data_head(&self, cred: &SoftCredential, extra_flags: u8) -> Vec<u8> {
        let mut flags = extra_flags;
        for (on, bit) in [
            (self.user_present, FLAG_UP),
            (self.user_verified, FLAG_UV),
            (cred.backup_eligible, FLAG_BE),
            (cred.backup_state, FLAG_BS),
        ] {
            if on {
                flags |= bit;
            }
        }
        let mut out = Sha256::digest(cred.rp_id.as_bytes()).to_vec();
        out.push(flags);
        out.extend_from_slice(&cred.sign_count.to_be_bytes());
        out
    }
}

/// The PublicKeyCredential JSON (as `toJSON()` gives it) around a response: binary fields are
/// unpadded base64url.
fn credential_json(id: &[u8], response: Value) -> Value {
    json!({
        "id": b64(id),
        "rawId": b64(id),
        "type": "public-key",
        "authenticatorAttachment": "platform",
        "response": response,
        "clientExtensionResults": {},
    })
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// clientDataJSON byte-for-byte as browsers write it: these four keys in this order, no spaces,
/// the challenge re-encoded as unpadded base64url.
fn client_data_json(typ: &str, challenge: &[u8], origin: &str) -> String {
    // serde_json quoting handles escaping; building the string by hand fixes the key order.
    let quote = |s: &str| serde_json::to_string(s).expect("a str always serialises");
    format!(
        r#"{{"type":{},"challenge":{},"origin":{},"crossOrigin":false}}"#,
        quote(typ),
        quote(&b64(challenge)),
        quote(origin)
    )
}

/// COSE_Key of an EC2 P-256 public key: {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y},
/// keys in CTAP2 canonical order.
fn cose_es256_key(key: &SigningKey) -> Vec<u8> {
    let point = key.verifying_key().to_sec1_point(false);
    let x = point.x().expect("uncompressed point has x");
    let y = point.y().expect("uncompressed point has y");
    let mut out = Vec::new();
    cbor_head(&mut out, 5, 5);
    for (k, v) in [(1, 2), (3, COSE_ES256), (-1, 1)] {
        cbor_int(&mut out, k);
        cbor_int(&mut out, v);
    }
    cbor_int(&mut out, -2);
    cbor_bytes(&mut out, x);
    cbor_int(&mut out, -3);
    cbor_bytes(&mut out, y);
    out
}

/// CBOR item head (RFC 8949 §3): major type in the top 3 bits, then the argument in the
/// shortest form, which CTAP2 canonical CBOR requires.
fn cbor_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let (info, len) = match arg {
        0..=23 => (arg as u8, 0),
        24..=0xff => (24, 1),
        0x100..=0xffff => (25, 2),
        0x1_0000..=0xffff_ffff => (26, 4),
        _ => (27, 8),
    };
    out.push(major << 5 | info);
    out.extend_from_slice(&arg.to_be_bytes()[8 - len..]);
}

/// Integers: major 0 for n >= 0, major 1 holding -1 - n for negatives.
fn cbor_int(out: &mut Vec<u8>, n: i64) {
    match u64::try_from(n) {
        Ok(u) => cbor_head(out, 0, u),
        Err(_) => cbor_head(out, 1, n.unsigned_abs() - 1),
    }
}

fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    cbor_head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Decodes a binary field of the options. Servers send base64url without padding (WebAuthn
/// L3 JSON); padded or standard-alphabet input is tolerated too.
fn b64_field(v: &Value, what: &str) -> Result<Vec<u8>, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("TypeError: {what} missing or not a string"))?;
    let s = s.trim_end_matches('=').replace('+', "-").replace('/', "_");
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| format!("TypeError: {what} is not base64url: {e}"))
}

/// The `id`s of a list of PublicKeyCredentialDescriptors (absent list: none).
fn b64_ids(list: &Value) -> Result<Vec<Vec<u8>>, String> {
    let ids = list.as_array().into_iter().flatten().map(|c| &c["id"]);
    ids.map(|id| b64_field(id, "credential descriptor id"))
        .collect()
}

/// Host of an origin like "http://localhost:8080": the rp id a browser defaults to.
fn host_of(origin: &str) -> String {
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    rest.split(['/', ':']).next().unwrap_or_default().to_owned()
}
