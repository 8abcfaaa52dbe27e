//! The audit key: the secret that makes each audit entry's link an HMAC, so only
//! a holder of the key can write a chain that verifies. Also the seal over the
//! entries written before a key was used, and the checkpoint kept outside the store.

use std::fmt;

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::Secret;

/// Shorter keys can be guessed offline from any entry and its HMAC.
pub const MIN_AUDIT_KEY_BYTES: usize = 16;

/// A key for the audit chain, known by its id. The id (the first 8 hex digits of
/// the key's SHA-256) is stored with each entry; the key itself never is.
#[derive(Clone)]
pub struct AuditKey {
    id: String,
    secret: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the audit key is shorter than {MIN_AUDIT_KEY_BYTES} bytes: make one with `openssl rand -hex 32`")]
pub struct AuditKeyError;

impl AuditKey {
    pub fn new(secret: Secret) -> Result<AuditKey, AuditKeyError> {
        if secret.expose().len() < MIN_AUDIT_KEY_BYTES {
            return Err(AuditKeyError);
        }
        // An operator can name a key without hrsync: `printf %s "$KEY" | sha256sum | cut -c1-8`.
        let id = hex::encode(&Sha256::digest(secret.expose().as_bytes())[..4]);
        Ok(AuditKey { id, secret })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// HMAC-SHA256 of `data`, in hex.
    pub(super) fn mac(&self, data: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditKey({})", self.id)
    }
}

/// The one link function of the chain: HMAC-SHA256 with a key, plain SHA-256 (the
/// legacy link, for entries written without one) otherwise.
pub(super) fn link(key: Option<&AuditKey>, canonical: &[u8]) -> String {
    match key {
        Some(key) => key.mac(canonical),
        None => hex::encode(Sha256::digest(canonical)),
    }
}

/// Written by the first writer with a key: entries 1 to `legacy_entries` have no key
/// (plain SHA-256) and every later one must have one. Its MAC keeps someone without
/// the key from rewriting the keyed entries as legacy ones, or the legacy ones at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditSeal {
    pub legacy_entries: u64,
    /// The hash of entry `legacy_entries` (the genesis hash when there is none).
    pub legacy_hash: String,
    pub key_id: String,
    pub at: Timestamp,
    #[serde(skip)]
    pub(super) mac: String,
}

impl AuditSeal {
    pub(super) fn canonical(&self) -> String {
        serde_json::json!([
            "hrsync audit seal",
            self.legacy_entries,
            self.legacy_hash,
            self.key_id,
            self.at.as_microsecond(),
        ])
        .to_string()
    }
}

/// The head of the log at a moment, kept outside the store (`hrsync audit checkpoint`):
/// a later verify against it finds the log rewritten, cut short or emptied since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheckpoint {
    /// The newest entry's sequence number (0: the log was empty).
    pub seq: u64,
    pub hash: String,
    /// The key that entry was written with (none: a legacy entry).
    pub key_id: Option<String>,
    /// When that entry was written.
    pub entry_at: Option<Timestamp>,
    /// When the checkpoint was taken.
    pub taken_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_the_start_of_the_keys_sha256_and_debug_hides_the_key() {
        let key = AuditKey::new(Secret::new("0123456789abcdef0123")).unwrap();
        let full = hex::encode(Sha256::digest(b"0123456789abcdef0123"));
        assert_eq!(key.id(), &full[..8]);
        let debug = format!("{key:?}");
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(
            AuditKey::new(Secret::new("too-short")).unwrap_err(),
            AuditKeyError
        );
    }

    #[test]
    fn the_link_depends_on_the_key() {
        let a = AuditKey::new(Secret::new("a".repeat(32))).unwrap();
        let b = AuditKey::new(Secret::new("b".repeat(32))).unwrap();
        let data = b"[1,2,3]";
        assert_ne!(link(Some(&a), data), link(Some(&b), data));
        assert_ne!(link(Some(&a), data), link(None, data));
        assert_eq!(link(None, data), hex::encode(Sha256::digest(data)));
    }
}
