//! HTML entities in wikitext (`&nbsp;`, `&mdash;`, `&#91;`, `&#x41;`): the named ones wiki
//! pages use, and every numeric one.

/// Decodes the HTML entity at the start of `s`: `(Some(char) or None for a soft hyphen-like
/// invisible, byte length)`; `None` if `s` does not start with a known entity.
pub(super) fn decode_entity(s: &str) -> Option<(Option<char>, usize)> {
    let semi = s.as_bytes().iter().take(12).position(|&c| c == b';')?;
    let name = &s[1..semi];
    let c = if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        Some(char::from_u32(code).filter(|&c| c != '\0')?)
    } else {
        match name {
            "nbsp" | "ensp" | "emsp" | "thinsp" | "numsp" => Some(' '),
            "shy" | "zwj" | "zwnj" | "lrm" | "rlm" => None,
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "ndash" => Some('–'),
            "mdash" => Some('—'),
            "minus" => Some('−'),
            "hellip" => Some('…'),
            "times" => Some('×'),
            "deg" => Some('°'),
            "middot" => Some('·'),
            "bull" => Some('•'),
            "laquo" => Some('«'),
            "raquo" => Some('»'),
            "lsquo" => Some('‘'),
            "rsquo" => Some('’'),
            "ldquo" => Some('“'),
            "rdquo" => Some('”'),
            "prime" => Some('′'),
            "Prime" => Some('″'),
            "frac12" => Some('½'),
            "copy" => Some('©'),
            "reg" => Some('®'),
            "euro" => Some('€'),
            "pound" => Some('£'),
            "sect" => Some('§'),
            "plusmn" => Some('±'),
            "larr" => Some('←'),
            "rarr" => Some('→'),
            _ => return None,
        }
    };
    Some((c, semi + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_and_numeric_entities() {
        let cases = [
            ("&nbsp;x", Some((Some(' '), 6))),
            ("&amp;", Some((Some('&'), 5))),
            ("&mdash;—", Some((Some('—'), 7))),
            ("&#91;", Some((Some('['), 5))),
            ("&#x41;", Some((Some('A'), 6))),
            ("&#X1EA1;", Some((Some('ạ'), 8))),
            // Invisible characters are decoded to nothing.
            ("&shy;", Some((None, 5))),
            ("&zwj;", Some((None, 5))),
        ];
        for (input, want) in cases {
            assert_eq!(decode_entity(input), want, "{input}");
        }
    }

    #[test]
    fn what_is_not_an_entity() {
        for input in [
            "&bogus;",
            "& b;",
            "&amp",
            "&#0;",
            "&#xD800;",
            "&#12345678901234;",
            "&averyveryverylongname;",
        ] {
            assert_eq!(decode_entity(input), None, "{input}");
        }
    }
}
