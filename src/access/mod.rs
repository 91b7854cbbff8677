//! Who may read what: access tokens, each granting a scope of assets (and
//! perhaps `/metrics`), read from an access file that lists them by their
//! SHA-256 digest. Off unless a file is given. The file is read again when
//! it changes; failed attempts are counted per client address.

mod failures;
mod file;
mod token;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use subtle::ConstantTimeEq;

pub use self::failures::{Failures, MAX_FAILURES};
pub use self::file::{FileError, Skipped};
use self::token::TokenDigest;
pub use self::token::{digest_hex, new_token};
use crate::asset::AssetScope;
use crate::message::chain;

/// How often the access file's size and time are looked at.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// What one token may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The name the file gives the token: logged instead of the token.
    pub name: Arc<str>,
    pub assets: Arc<AssetScope>,
    /// `/metrics`.
    pub metrics: bool,
}

/// A token found in the file, and its grant.
type Seen = (Box<str>, Arc<Grant>);

/// The tokens of one reading of the file.
#[derive(Debug, Default)]
pub(crate) struct Table {
    by_digest: HashMap<TokenDigest, Arc<Grant>>,
    /// Tokens already found in `by_digest`, by a keyed hash of the token,
    /// so that a reader's every request does not pay for a SHA-256 (about
    /// 3,500 instructions, a tenth of a warm answer). Only tokens that
    /// matched are kept: no more than the file's lines.
    seen: RwLock<HashMap<u64, Seen>>,
    keys: std::hash::RandomState,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read the access file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the access file {path} cannot be used")]
    Unusable {
        path: PathBuf,
        #[source]
        source: FileError,
    },
}

/// The tokens in force, shared by every request and replaced whole when
/// the file changes.
#[derive(Debug, Clone)]
pub struct Access {
    path: Arc<PathBuf>,
    table: Arc<RwLock<Arc<Table>>>,
    /// The file's stamp when the tokens in force were read.
    read: Option<(u64, SystemTime)>,
}

impl Access {
    /// Reads `path`: a file that cannot be read or is not an access file
    /// stops the service from starting rather than leaving it open.
    pub fn open(path: &Path) -> Result<Access, AccessError> {
        let stamped = stamp(path);
        let table = read(path)?;
        Ok(Access {
            path: Arc::new(path.to_owned()),
            table: Arc::new(RwLock::new(Arc::new(table))),
            read: stamped,
        })
    }

    /// The grant of `token`, if it is in the file. Tokens are looked up by
    /// their SHA-256 digest (or, once found, a keyed hash of the token), so
    /// what a lookup's timing depends on is a digest of what was sent,
    /// which tells nothing of a real token's bytes; what is found is then
    /// compared with what was sent in constant time.
    pub fn grant(&self, token: &str) -> Option<Arc<Grant>> {
        let table = self.current();
        let keyed = table.keys.hash_one(token);
        if let Some(grant) = table.seen_grant(keyed, token) {
            return Some(grant);
        }
        let sent = token::digest(token);
        let (found, grant) = table.by_digest.get_key_value(&sent)?;
        if !bool::from(found.ct_eq(&sent)) {
            return None;
        }
        if let Ok(mut seen) = table.seen.write() {
            seen.insert(keyed, (token.into(), Arc::clone(grant)));
        }
        Some(Arc::clone(grant))
    }

    /// How many tokens are in force.
    pub fn tokens(&self) -> usize {
        self.current().by_digest.len()
    }

    fn current(&self) -> Arc<Table> {
        match self.table.read() {
            Ok(table) => Arc::clone(&table),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Reads the file again whenever its size or time changes, until the
    /// runtime stops. A reading that fails keeps the tokens in force (a
    /// half-written file must not lock everyone out), and says so.
    pub fn spawn_reload(&self) {
        let access = self.clone();
        tokio::spawn(async move {
            let mut seen = access.read;
            loop {
                tokio::time::sleep(RELOAD_EVERY).await;
                let now = stamp(&access.path);
                if now == seen {
                    continue;
                }
                seen = now;
                let path = Arc::clone(&access.path);
                let read = tokio::task::spawn_blocking(move || read(&path)).await;
                match read {
                    Ok(Ok(table)) => {
                        tracing::info!(tokens = table.by_digest.len(), "access file read again");
                        let mut slot = match access.table.write() {
                            Ok(slot) => slot,
                            Err(poisoned) => poisoned.into_inner(),
                        };
                        *slot = Arc::new(table);
                    }
                    Ok(Err(err)) => tracing::error!(
                        error = %chain(&err),
                        "the access file changed but cannot be used; the tokens read before stay in force"
                    ),
                    Err(err) => tracing::error!(error = %err, "reading the access file stopped"),
                }
            }
        });
    }
}

/// A new token named `name` with the scope `words`, and the access file's
/// line that grants it: checked as the service will read it, so a line
/// printed is a line that works.
pub fn new_grant(name: &str, words: &[String]) -> Result<(String, String), String> {
    let named = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'@'));
    if !named {
        return Err(format!(
            "the name `{}` must be 1 to 64 letters, digits, `.`, `_`, `-` or `@`",
            crate::message::quote(name, 40)
        ));
    }
    let scope = words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ");
    let token = new_token().map_err(|e| format!("no random bytes from the system: {e}"))?;
    let line = format!("{name},{},{scope}", digest_hex(&token));
    let text = format!("name,token_sha256,scope\n{line}\n");
    match file::parse(text.as_bytes()) {
        Ok((table, _)) if table.by_digest.len() == 1 => Ok((token, line)),
        Ok((_, skipped)) => Err(skipped
            .into_iter()
            .map(|s| s.reason)
            .next()
            .unwrap_or_else(|| "the line cannot be read back".to_owned())),
        Err(e) => Err(e.to_string()),
    }
}

impl Table {
    fn seen_grant(&self, keyed: u64, token: &str) -> Option<Arc<Grant>> {
        let seen = self.seen.read().ok()?;
        let (known, grant) = seen.get(&keyed)?;
        bool::from(known.as_bytes().ct_eq(token.as_bytes())).then(|| Arc::clone(grant))
    }
}

/// The file's size and modification time, to notice a change.
fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// The tokens of the file at `path`, each skipped line named in the log.
fn read(path: &Path) -> Result<Table, AccessError> {
    let text = std::fs::read(path).map_err(|source| AccessError::Read {
        path: path.to_owned(),
        source,
    })?;
    let (table, skipped) = file::parse(&text).map_err(|source| AccessError::Unusable {
        path: path.to_owned(),
        source,
    })?;
    for Skipped { line, name, reason } in &skipped {
        tracing::warn!(
            file = %path.display(),
            line,
            name = %name,
            "access file line skipped: {reason}"
        );
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_granted_again_from_memory_and_a_near_miss_never() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.csv");
        let token = "a-token-0123456789abcdefghijklmnopqrstuv";
        std::fs::write(
            &path,
            format!(
                "name,token_sha256,scope\nhouse,{},site-0*\n",
                digest_hex(token)
            ),
        )
        .unwrap();
        let access = Access::open(&path).unwrap();

        let first = access.grant(token).expect("granted");
        let again = access.grant(token).expect("granted from memory");
        let near = access.grant("a-token-0123456789abcdefghijklmnopqrstuw");

        assert_eq!(first.name.as_ref(), "house");
        assert!(Arc::ptr_eq(&first, &again));
        assert!(near.is_none());
        assert_eq!(access.tokens(), 1);
    }
}
