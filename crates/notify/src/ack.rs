//! Signed acknowledge links: a link in a message that stops a group's escalation when opened,
//! without a login, and that nobody can forge for another group.
//!
//! The signature is HMAC-SHA256 over the group key with a secret only the server knows; the
//! link carries the key and the signature, and the server checks the signature in constant
//! time before acting.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The path the web server answers acknowledge links on.
pub const ACK_PATH: &str = "/api/v1/notify/ack";

/// Makes and checks acknowledge links.
#[derive(Clone)]
pub struct AckSigner {
    secret: Vec<u8>,
}

impl std::fmt::Debug for AckSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AckSigner(..)")
    }
}

impl AckSigner {
    /// A signer with `secret` (at least 16 bytes; shorter secrets are refused, as they could
    /// be guessed).
    pub fn new(secret: &[u8]) -> Option<Self> {
        (secret.len() >= 16).then(|| AckSigner {
            secret: secret.to_vec(),
        })
    }

    /// The signature of `group_key`, as lower-case hex.
    pub fn sign(&self, group_key: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(group_key.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// True when `signature` (hex) is `group_key`'s; compared in constant time.
    pub fn verify(&self, group_key: &str, signature: &str) -> bool {
        let Some(bytes) = from_hex(signature) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(group_key.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }

    /// The link that acknowledges `group_key`, under `external_url`.
    pub fn link(&self, external_url: &str, group_key: &str) -> String {
        format!(
            "{}{ACK_PATH}?group={}&sig={}",
            external_url.trim_end_matches('/'),
            percent_encode(group_key),
            self.sign(group_key)
        )
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_verifies_for_its_group_only() {
        let signer = AckSigner::new(b"0123456789abcdef0123").unwrap();
        let key = r#"root.1:{alertname="Disk Full"}"#;
        let link = signer.link("http://periscope:9187/", key);
        assert!(link.starts_with("http://periscope:9187/api/v1/notify/ack?group=root.1%3A%7Balertname%3D%22Disk%20Full%22%7D&sig="));
        let sig = link.rsplit("sig=").next().unwrap();
        assert!(signer.verify(key, sig));
        assert!(!signer.verify("root.1:{}", sig));
        assert!(!signer.verify(key, "00"));
        assert!(!signer.verify(key, "zz"));
        let other = AckSigner::new(b"another secret of 16+").unwrap();
        assert!(!other.verify(key, sig));
        assert!(AckSigner::new(b"short").is_none());
    }
}
