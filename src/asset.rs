//! [`AssetId`]: the name of a metered asset as it appears in power files and
//! request paths. Parsed once at the edge so that no other module has to
//! worry about slashes, `..` or control characters reaching a path or a URL.

use std::fmt;

use crate::message::quote;

/// Longest accepted asset id, in bytes.
pub const MAX_ASSET_ID_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "asset id `{quoted}` must be 1 to {MAX_ASSET_ID_LEN} characters of A-Z, a-z, 0-9, `_` or `-`"
)]
pub struct AssetIdError {
    quoted: String,
}

/// An asset id matching `[A-Za-z0-9_-]{1,64}`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct AssetId(String);

impl TryFrom<String> for AssetId {
    type Error = AssetIdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        AssetId::parse(&s)
    }
}

impl From<AssetId> for String {
    fn from(id: AssetId) -> String {
        id.0
    }
}

impl AssetId {
    pub fn parse(s: &str) -> Result<Self, AssetIdError> {
        let ok = !s.is_empty()
            && s.len() <= MAX_ASSET_ID_LEN
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
        if ok {
            Ok(AssetId(s.to_owned()))
        } else {
            Err(AssetIdError {
                quoted: quote(s, 40),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_id_accepts_letters_digits_underscore_and_dash() {
        for ok in ["abc123xyz", "A", "hp_site-02", &"a".repeat(64)] {
            assert_eq!(AssetId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn asset_id_rejects_paths_dots_spaces_control_and_overlong_input() {
        for bad in [
            "",
            "..",
            "a/b",
            "a\\b",
            "a b",
            "a.b",
            "a\0b",
            "é",
            "%2e%2e",
            &"a".repeat(65),
        ] {
            assert!(AssetId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn asset_id_error_escapes_control_characters() {
        let message = AssetId::parse("a\nb").unwrap_err().to_string();
        assert!(!message.contains('\n'), "{message}");
    }
}
