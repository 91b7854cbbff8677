//! The access file: `name,token_sha256,scope`, one token per line, each
//! known only by its digest. A line that cannot be used is skipped and
//! named, never read as a wider scope than it says.

use std::collections::HashMap;
use std::sync::Arc;

use super::token::TokenDigest;
use super::{Grant, Table};
use crate::asset::AssetScope;
use crate::message::quote;

/// A line skipped, and why (never with its digest: a log is not the place
/// to collect them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub line: u64,
    pub name: String,
    pub reason: String,
}

/// Why the file as a whole cannot be read as an access file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("its header must be `name,token_sha256,scope`")]
    Header,
    #[error("it is not CSV")]
    Csv(#[from] csv::Error),
}

/// The tokens of an access file's `text`, and the lines skipped.
pub(super) fn parse(text: &[u8]) -> Result<(Table, Vec<Skipped>), FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text);
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    if header != ["name", "token_sha256", "scope"] {
        return Err(FileError::Header);
    }
    let mut by_digest: HashMap<TokenDigest, Arc<Grant>> = HashMap::new();
    let mut skipped = Vec::new();
    for record in reader.records() {
        let record = record?;
        let line = record.position().map_or(0, |p| p.line());
        let name = record.get(0).unwrap_or_default();
        let outcome = grant(&record).and_then(|(digest, grant)| {
            if by_digest.contains_key(&digest) {
                return Err("its token is already on an earlier line".to_owned());
            }
            by_digest.insert(digest, Arc::new(grant));
            Ok(())
        });
        if let Err(reason) = outcome {
            skipped.push(Skipped {
                line,
                name: quote(name, 40),
                reason,
            });
        }
    }
    Ok((
        Table {
            by_digest,
            ..Table::default()
        },
        skipped,
    ))
}

/// One line's digest and grant, or why it cannot be used.
fn grant(record: &csv::StringRecord) -> Result<(TokenDigest, Grant), String> {
    if record.len() != 3 {
        return Err(format!("it has {} fields, not 3", record.len()));
    }
    let name = &record[0];
    if name.is_empty() {
        return Err("its name is empty".to_owned());
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(&record[1], &mut digest)
        .map_err(|_| "its token_sha256 is not 64 hex digits".to_owned())?;
    let mut assets = AssetScope::nothing();
    let mut metrics = false;
    let words: Vec<&str> = record[2].split_whitespace().collect();
    if words.is_empty() {
        return Err("its scope is empty".to_owned());
    }
    for word in words {
        match word {
            "metrics" => metrics = true,
            word => assets.add(word).map_err(|e| format!("its scope: {e}"))?,
        }
    }
    Ok((
        digest,
        Grant {
            name: name.into(),
            assets: Arc::new(assets),
            metrics,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::token::{digest, digest_hex};
    use crate::asset::AssetId;

    fn file(lines: &[String]) -> Vec<u8> {
        let mut text = "name,token_sha256,scope\n".to_owned();
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        text.into_bytes()
    }

    #[test]
    fn each_line_grants_its_scope() {
        let text = file(&[
            format!("analysts,{},*", digest_hex("a")),
            "# a comment".to_owned(),
            format!("house-7,{},site-07 hp-*", digest_hex("h")),
            format!("prometheus,{},metrics", digest_hex("p")),
        ]);
        let (table, skipped) = parse(&text).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        let id = |s| AssetId::parse(s).unwrap();
        let analysts = &table.by_digest[&digest("a")];
        assert!(analysts.assets.is_everything() && !analysts.metrics);
        let house = &table.by_digest[&digest("h")];
        assert!(house.assets.covers(&id("site-07")) && house.assets.covers(&id("hp-1")));
        assert!(!house.assets.covers(&id("site-070")));
        let prometheus = &table.by_digest[&digest("p")];
        assert!(prometheus.metrics && !prometheus.assets.covers(&id("site-07")));
    }

    #[test]
    fn a_bad_line_is_skipped_and_named_never_widened() {
        let text = file(&[
            format!("empty,{},", digest_hex("e")),
            format!("spaces,{},site 0 ../x", digest_hex("s")),
            "short,abc,*".to_owned(),
            format!("extra,{},*,more", digest_hex("x")),
            format!(",{},*", digest_hex("n")),
            format!("good,{},site-1", digest_hex("g")),
            format!("again,{},*", digest_hex("g")),
        ]);
        let (table, skipped) = parse(&text).unwrap();
        let names: Vec<&str> = skipped.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["empty", "spaces", "short", "extra", "", "again"]);
        assert_eq!(skipped[0].line, 2);
        assert_eq!(table.by_digest.len(), 1);
        let good = &table.by_digest[&digest("g")];
        assert!(!good.assets.is_everything());
        // No reason repeats a digest.
        assert!(skipped.iter().all(|s| !s.reason.contains(&digest_hex("g"))));
    }

    #[test]
    fn a_file_without_the_header_is_refused() {
        assert!(matches!(
            parse(format!("a,{},*\n", digest_hex("a")).as_bytes()),
            Err(FileError::Header)
        ));
    }
}
