//! Text for one-line messages: quoting what a client or a file sent (cut
//! short and escaped, whatever it was), and an error's cause chain.

use std::fmt::Write as _;

/// `s` cut to `max_chars` characters (with `...` when cut), control
/// characters and quotes escaped, so a message stays one short line.
pub fn quote(s: &str, max_chars: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max_chars)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if s.chars().nth(max_chars).is_some() {
        out.push_str("...");
    }
    out
}

/// `err: cause: cause...` on one line. Top-level messages of libraries are
/// often vague ("error sending request"); the causes say what happened.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_keeps_short_text_and_readable_unicode() {
        assert_eq!(quote("abc", 10), "abc");
        assert_eq!(quote("héllo", 10), "héllo");
    }

    #[test]
    fn quote_cuts_long_text_and_escapes_control_characters() {
        assert_eq!(quote("abcdef", 3), "abc...");
        assert_eq!(quote("a\nb\0", 10), "a\\nb\\0");
        assert!(!quote(&"\n".repeat(1000), 40).contains('\n'));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chain_joins_every_cause_on_one_line() {
        let err = Outer(std::io::Error::other("inner"));
        assert_eq!(chain(&err), "outer: inner");
    }
}
