//! Tokens: made from the operating system's random source, kept by the
//! service only as their SHA-256 digest.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Random bytes in a new token: 256 bits.
const TOKEN_BYTES: usize = 32;

/// A SHA-256 digest of a token.
pub type TokenDigest = [u8; 32];

/// A fresh token: 32 random bytes, base64url without padding (43
/// characters, safe in a header, a cookie and a shell).
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// The digest as the access file writes it: 64 lower-case hex digits.
pub fn digest_hex(token: &str) -> String {
    hex::encode(digest(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_is_url_safe_and_never_the_same_twice() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn the_digest_is_sha256_in_hex() {
        // `printf abc | sha256sum`
        assert_eq!(
            digest_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
