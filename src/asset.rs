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

    /// The id asked for in place of an asset outside a reader's scope:
    /// `~`, which [`AssetId::parse`] refuses, so no power file or register
    /// holds it and every answer for it is a missing asset's.
    pub fn unseen() -> Self {
        AssetId(UNSEEN.to_owned())
    }

    pub fn is_unseen(&self) -> bool {
        self.0 == UNSEEN
    }
}

const UNSEEN: &str = "~";

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The assets a reader may see: every asset, or those named and those
/// whose id starts with a prefix. Filters fleets, lists and reports; an
/// asset outside it is answered as one that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AssetScope {
    all: bool,
    ids: std::collections::BTreeSet<AssetId>,
    prefixes: std::collections::BTreeSet<String>,
}

/// A scope word that is neither `*`, an asset id nor a prefix `id*`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{quoted}` is not `*`, an asset id or a prefix such as `site-0*`")]
pub struct ScopeWordError {
    quoted: String,
}

impl AssetScope {
    /// Every asset: what a reader sees when access is off.
    pub fn everything() -> Self {
        AssetScope {
            all: true,
            ..AssetScope::default()
        }
    }

    /// No asset (a token for `/metrics` alone).
    pub fn nothing() -> Self {
        AssetScope::default()
    }

    /// Adds one word of a scope: `*`, an asset id, or a prefix `site-0*`.
    pub fn add(&mut self, word: &str) -> Result<(), ScopeWordError> {
        let bad = || ScopeWordError {
            quoted: quote(word, 40),
        };
        if word == "*" {
            self.all = true;
        } else if let Some(prefix) = word.strip_suffix('*') {
            // The prefix must itself be the start of a valid id.
            AssetId::parse(prefix).map_err(|_| bad())?;
            self.prefixes.insert(prefix.to_owned());
        } else {
            self.ids.insert(AssetId::parse(word).map_err(|_| bad())?);
        }
        Ok(())
    }

    pub fn is_everything(&self) -> bool {
        self.all
    }

    pub fn covers(&self, asset: &AssetId) -> bool {
        self.all
            || self.ids.contains(asset)
            || self.prefixes.iter().any(|p| asset.as_str().starts_with(p))
    }

    /// `asset` if this scope covers it, else an id no file or register can
    /// hold (it fails [`AssetId::parse`]): asked for in its place, it gets
    /// exactly the answer an asset that does not exist gets.
    pub fn visible(&self, asset: &AssetId) -> AssetId {
        if self.covers(asset) {
            asset.clone()
        } else {
            AssetId::unseen()
        }
    }
}

impl fmt::Display for AssetScope {
    /// The scope's words, space-separated, as the access file has them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words: Vec<String> = Vec::new();
        if self.all {
            words.push("*".to_owned());
        }
        words.extend(self.ids.iter().map(|id| id.to_string()));
        words.extend(self.prefixes.iter().map(|p| format!("{p}*")));
        f.write_str(&words.join(" "))
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
    fn a_scope_covers_its_ids_and_prefixes_only() {
        let mut scope = AssetScope::nothing();
        for word in ["site-0*", "hp-7"] {
            scope.add(word).unwrap();
        }
        let id = |s| AssetId::parse(s).unwrap();
        assert!(scope.covers(&id("site-0")) && scope.covers(&id("site-042")));
        assert!(scope.covers(&id("hp-7")));
        assert!(!scope.covers(&id("site-100")) && !scope.covers(&id("hp-70")));
        assert!(scope.visible(&id("site-100")).is_unseen());
        assert_eq!(scope.to_string(), "hp-7 site-0*");
        assert!(AssetScope::everything().covers(&id("anything")));
        assert!(!AssetScope::nothing().covers(&id("anything")));
    }

    #[test]
    fn a_scope_refuses_words_that_are_not_ids_or_prefixes() {
        for bad in ["", "**", "a*b", "site 0", "../x", "*x", "é*"] {
            assert!(AssetScope::nothing().add(bad).is_err(), "{bad:?}");
        }
        assert!(AssetId::parse(AssetId::unseen().as_str()).is_err());
    }

    #[test]
    fn asset_id_error_escapes_control_characters() {
        let message = AssetId::parse("a\nb").unwrap_err().to_string();
        assert!(!message.contains('\n'), "{message}");
    }
}
