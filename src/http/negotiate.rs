//! Choosing the response format: `?format=` wins; otherwise the `Accept`
//! header, weighing q-values and preferring the most specific match; PNG
//! when the client accepts anything.

use crate::error::Error;
use crate::message::quote;
use crate::render::Format;

/// The format for a request, from its `format` parameter and `Accept`.
pub fn negotiate_format(param: Option<&str>, accept: Option<&str>) -> Result<Format, Error> {
    if let Some(name) = param {
        return name.parse().map_err(Error::BadQuery);
    }
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(Format::Png);
    };
    // For each format: the q of the most specific range that matches it.
    let mut best: Option<(f32, usize, Format)> = None;
    for (order, format) in Format::ALL.into_iter().enumerate() {
        let (main, sub) = format.media_type().split_once('/').unwrap_or(("", ""));
        let mut matched: Option<(u8, f32)> = None;
        for range in accept.split(',') {
            let (media, q) = weighted(range);
            let specificity = match media.split_once('/') {
                Some((m, s)) if m == main && s == sub => 3,
                Some((m, "*")) if m == main => 2,
                Some(("*", "*")) => 1,
                _ => continue,
            };
            if matched.is_none_or(|(spec, _)| specificity > spec) {
                matched = Some((specificity, q));
            }
        }
        if let Some((_, q)) = matched.filter(|(_, q)| *q > 0.0) {
            // Higher q wins; on a tie the earlier format (PNG first).
            if best.is_none_or(|(bq, _, _)| q > bq) {
                best = Some((q, order, format));
            }
        }
    }
    best.map(|(_, _, f)| f)
        .ok_or_else(|| Error::NotAcceptable(quote(accept, 100)))
}

/// One element of an `Accept`-style list, lower-cased, with its q-value
/// (1 when absent, within 0..=1). Parameter names are case-insensitive
/// (RFC 9110 12.4.2).
fn weighted(element: &str) -> (String, f32) {
    let mut parts = element.split(';');
    let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let q = parts
        .filter_map(|p| {
            let (key, value) = p.split_once('=')?;
            key.trim().eq_ignore_ascii_case("q").then_some(value)
        })
        .find_map(|q| q.trim().parse::<f32>().ok())
        .unwrap_or(1.0)
        .clamp(0.0, 1.0);
    (name, q)
}

/// Whether `Accept-Encoding` takes gzip: `gzip` (or `x-gzip`, or `*`)
/// listed with a q above zero.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(header) = accept_encoding else {
        return false;
    };
    let mut star = false;
    for coding in header.split(',') {
        let (name, q) = weighted(coding);
        match name.as_str() {
            "gzip" | "x-gzip" => return q > 0.0,
            "*" => star = q > 0.0,
            _ => {}
        }
    }
    star
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: &str) -> Option<Format> {
        negotiate_format(None, Some(accept)).ok()
    }

    #[test]
    fn gzip_is_taken_when_listed_or_starred_with_a_positive_q() {
        assert!(accepts_gzip(Some("gzip, deflate, br")));
        assert!(accepts_gzip(Some("br;q=1.0, GZIP;Q=0.5")));
        assert!(accepts_gzip(Some("*")));
        assert!(!accepts_gzip(Some("gzip;q=0, *")));
        assert!(!accepts_gzip(Some("br")));
        assert!(!accepts_gzip(None));
    }

    #[test]
    fn the_q_parameter_name_is_case_insensitive() {
        assert_eq!(
            pick("application/json;Q=0.1, image/png;q=0.5"),
            Some(Format::Png)
        );
        assert_eq!(pick("image/png; Q = 0.2, text/csv"), Some(Format::Csv));
    }

    #[test]
    fn the_format_parameter_wins_over_accept() {
        assert_eq!(
            negotiate_format(Some("csv"), Some("application/json")).unwrap(),
            Format::Csv
        );
        assert!(matches!(
            negotiate_format(Some("gif"), None),
            Err(Error::BadQuery(_))
        ));
    }

    #[test]
    fn browsers_curl_and_postman_get_png() {
        assert_eq!(negotiate_format(None, None).unwrap(), Format::Png);
        assert_eq!(pick("*/*"), Some(Format::Png));
        assert_eq!(
            pick(
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
            ),
            Some(Format::Png)
        );
        assert_eq!(
            pick("image/avif,image/webp,image/apng,image/*,*/*;q=0.8"),
            Some(Format::Png)
        );
    }

    #[test]
    fn a_specific_type_is_honoured() {
        assert_eq!(pick("application/json"), Some(Format::Json));
        assert_eq!(pick("text/csv"), Some(Format::Csv));
        assert_eq!(pick("image/svg+xml"), Some(Format::Svg));
        assert_eq!(pick("Application/JSON"), Some(Format::Json));
    }

    #[test]
    fn q_values_rank_and_the_most_specific_range_decides() {
        assert_eq!(
            pick("image/png;q=0.5, application/json"),
            Some(Format::Json)
        );
        assert_eq!(pick("image/*;q=0.9, image/png;q=0.1"), Some(Format::Svg));
        assert_eq!(pick("*/*;q=0.1, text/csv;q=0.2"), Some(Format::Csv));
        assert_eq!(pick("image/png;q=0, */*"), Some(Format::Svg));
    }

    #[test]
    fn nothing_acceptable_is_a_406() {
        assert!(matches!(
            negotiate_format(None, Some("text/html")),
            Err(Error::NotAcceptable(_))
        ));
    }
}
