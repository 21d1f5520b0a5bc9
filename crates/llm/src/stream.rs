//! Turning generated token bytes into text a client may see: [`Utf8Decoder`] rejoins
//! characters split across tokens, [`StopScanner`] cuts at stop sequences and holds back what
//! might become one, [`HoldFrom`] holds back everything from a marker on (a tool call, whose
//! text is no content if it parses).
//!
//! Pure code, compiled and tested with or without the `local` feature.

/// Reassembles UTF-8 characters that a tokenizer split across tokens.
#[derive(Default)]
pub(crate) struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    pub(crate) fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        match std::str::from_utf8(&self.pending) {
            Ok(text) => {
                let text = text.to_string();
                self.pending.clear();
                text
            }
            // Incomplete character at the end: keep its bytes for the next token.
            Err(e) if e.error_len().is_none() => {
                let rest = self.pending.split_off(e.valid_up_to());
                let text = String::from_utf8_lossy(&self.pending).into_owned();
                self.pending = rest;
                text
            }
            Err(_) => self.finish(),
        }
    }

    pub(crate) fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}

/// Finds stop sequences in generated text and holds back any tail that might be the start of
/// one, so a streamed stop sequence is never shown.
pub(crate) struct StopScanner<'a> {
    stops: &'a [String],
    text: String,
    emitted: usize,
}

impl<'a> StopScanner<'a> {
    pub(crate) fn new(stops: &'a [String]) -> Self {
        StopScanner {
            stops,
            text: String::new(),
            emitted: 0,
        }
    }

    /// Adds a piece; returns the text now safe to show and whether a stop sequence was hit
    /// (the text is then cut before it).
    pub(crate) fn push(&mut self, piece: &str) -> (String, bool) {
        self.text.push_str(piece);
        let hit = self
            .stops
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| self.text[self.emitted..].find(s.as_str()))
            .min();
        if let Some(at) = hit {
            self.text.truncate(self.emitted + at);
            return (self.flush(), true);
        }
        let held = self
            .stops
            .iter()
            .map(|s| partial_suffix(&self.text, s))
            .max()
            .unwrap_or(0);
        let end = (self.text.len() - held).max(self.emitted);
        let safe = self.text[self.emitted..end].to_string();
        self.emitted = end;
        (safe, false)
    }

    /// Everything not yet shown.
    pub(crate) fn flush(&mut self) -> String {
        let rest = self.text[self.emitted..].to_string();
        self.emitted = self.text.len();
        rest
    }

    pub(crate) fn into_text(self) -> String {
        self.text
    }
}

/// Shows streamed text up to the first occurrence of a marker and holds back the rest (and any
/// tail that might begin the marker); [`HoldFrom::finish`] then shows what the final text has
/// beyond what was shown. Without a marker, everything passes at once.
pub(crate) struct HoldFrom<'a> {
    marker: Option<&'a str>,
    text: String,
    shown: usize,
    found: bool,
}

impl<'a> HoldFrom<'a> {
    pub(crate) fn new(marker: Option<&'a str>) -> Self {
        HoldFrom {
            marker,
            text: String::new(),
            shown: 0,
            found: false,
        }
    }

    /// Adds a piece; returns the text now safe to show.
    pub(crate) fn push(&mut self, piece: &str) -> String {
        let Some(marker) = self.marker else {
            self.shown += piece.len();
            return piece.to_string();
        };
        self.text.push_str(piece);
        if self.found {
            return String::new();
        }
        let end = match self.text[self.shown..].find(marker) {
            Some(at) => {
                self.found = true;
                self.shown + at
            }
            None => (self.text.len() - partial_suffix(&self.text, marker)).max(self.shown),
        };
        let safe = self.text[self.shown..end].to_string();
        self.shown = end;
        safe
    }

    /// What `text`, the final text, has beyond what was shown (it begins with that).
    pub(crate) fn finish(&mut self, text: &str) -> String {
        let rest = text.get(self.shown..).unwrap_or_default().to_string();
        self.shown = text.len();
        rest
    }
}

/// Length of the longest proper prefix of `stop` that `text` ends with.
fn partial_suffix(text: &str, stop: &str) -> usize {
    (1..stop.len())
        .rev()
        .filter(|&k| stop.is_char_boundary(k))
        .find(|&k| text.ends_with(&stop[..k]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes `pieces` through a scanner; returns the streamed pieces joined with `|`, the final
    /// text and whether it stopped.
    fn check(stops: &[&str], pieces: &[&str], expect: (&str, &str, bool)) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut scanner = StopScanner::new(&stops);
        let mut shown = Vec::new();
        let mut stopped = false;
        for piece in pieces {
            let (safe, hit) = scanner.push(piece);
            shown.push(safe);
            if hit {
                stopped = true;
                break;
            }
        }
        shown.push(scanner.flush());
        let streamed = shown.concat();
        let text = scanner.into_text();
        assert_eq!(streamed, text, "streamed pieces must add up to the text");
        assert_eq!((text.as_str(), stopped), (expect.1, expect.2));
        assert_eq!(shown.join("|"), expect.0);
    }

    #[test]
    fn stop_sequences() {
        check(&[], &["a", "b"], ("a|b|", "ab", false));
        check(
            &["</search>"],
            &["q ", "</sea", "rch> more"],
            ("q |||", "q ", true),
        );
        check(
            &["</search>"],
            &["q ", "</sea", "t"],
            ("q ||</seat|", "q </seat", false),
        );
        check(&["\n\n"], &["x\n", "\ny"], ("x||", "x", true));
        check(&["END", "STOP"], &["aSTOPbEND"], ("a|", "a", true));
        check(&["é!"], &["caf", "é"], ("caf||é", "café", false));
    }

    /// Pushes `pieces`, then finishes with `text`; returns the shown pieces joined with `|`.
    fn held(marker: Option<&str>, pieces: &[&str], text: &str) -> String {
        let mut hold = HoldFrom::new(marker);
        let mut shown: Vec<String> = pieces.iter().map(|p| hold.push(p)).collect();
        shown.push(hold.finish(text));
        assert_eq!(
            shown.concat(),
            text,
            "shown pieces must add up to the final text"
        );
        shown.join("|")
    }

    #[test]
    fn text_from_a_marker_on_is_held_back() {
        assert_eq!(held(None, &["a", "b"], "ab"), "a|b|");
        let call = ["t ", "Act", "ion: f", " {}"];
        // The call parsed: only the text before it is ever shown.
        assert_eq!(held(Some("Action:"), &call, "t "), "t ||||");
        // It did not: the held text comes at the end.
        assert_eq!(
            held(Some("Action:"), &call, "t Action: f {}"),
            "t ||||Action: f {}"
        );
        // A tail that only looked like the marker's start is shown once it is not.
        assert_eq!(held(Some("Action:"), &["Act", "s"], "Acts"), "|Acts|");
    }

    #[test]
    fn utf8_split_across_tokens_is_rejoined() {
        let bytes = "é€".as_bytes();
        let mut d = Utf8Decoder::default();
        assert_eq!(d.push(&bytes[..1]), "");
        assert_eq!(d.push(&bytes[1..3]), "é");
        assert_eq!(d.push(&bytes[3..]), "€");
        assert_eq!(d.push(&[0xff, b'a']), "\u{fffd}a");
    }
}
