//! Quoting text that came from a client or a file in a message: cut to a
//! few dozen characters and escaped, so a message stays one short line
//! whatever was sent.

/// `s` cut to `max_chars` characters (with `...` when cut), control
/// characters and quotes escaped.
pub fn shown(s: &str, max_chars: usize) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_keeps_short_text_and_readable_unicode() {
        assert_eq!(shown("abc", 10), "abc");
        assert_eq!(shown("héllo", 10), "héllo");
    }

    #[test]
    fn shown_cuts_long_text_and_escapes_control_characters() {
        assert_eq!(shown("abcdef", 3), "abc...");
        assert_eq!(shown("a\nb\0", 10), "a\\nb\\0");
        assert!(!shown(&"\n".repeat(1000), 40).contains('\n'));
    }
}
