//! What to read and how: the input [`Format`], when to [`Split`] records into passages, and the
//! [`Config`] holding both.
//!
//! Each enum has one written form (its canonical name), used by `Display`, serde and so by run
//! manifests; parsing also accepts a few aliases.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::CorpusError;

/// Gives a closed enum its one written form: `Display` and `Serialize` write the canonical
/// name, `FromStr` and `Deserialize` read it (any ASCII case) or one of the aliases.
macro_rules! written_as {
    (
        $ty:ident, $kind:literal,
        names { $($variant:ident => $name:literal),+ $(,)? },
        aliases { $($alias:literal => $target:ident),* $(,)? } $(,)?
    ) => {
        impl $ty {
            const NAMES: &[($ty, &str)] = &[$(($ty::$variant, $name)),+];
            const ALIASES: &[(&str, $ty)] = &[$(($alias, $ty::$target)),*];
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let name = $ty::NAMES.iter().find(|(v, _)| v == self).map_or("", |(_, n)| n);
                f.write_str(name)
            }
        }

        impl FromStr for $ty {
            type Err = CorpusError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let known = $ty::NAMES.iter().map(|&(v, n)| (n, v)).chain($ty::ALIASES.iter().copied());
                for (name, value) in known {
                    if name.eq_ignore_ascii_case(s) {
                        return Ok(value);
                    }
                }
                let names: Vec<&str> = $ty::NAMES.iter().map(|&(_, n)| n).collect();
                Err(CorpusError::UnknownName {
                    kind: $kind,
                    name: s.to_string(),
                    expected: names,
                })
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The kinds of input `corpus` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A MediaWiki XML dump (`*-pages-articles*.xml[.bz2]`).
    Xml,
    /// JSONL `{"id", "contents"}` with contents `"Title"\ntext` (Search-R1 / FlashRAG wiki-18):
    /// already passages.
    Contents,
    /// JSONL `{"id", "title", "text", "anchors"?}` that is already passages (this crate's output).
    Passages,
    /// JSONL `{"id"?, "title", "text"}` whole pages, paragraphs separated by newlines.
    Pages,
    /// KILT page JSONL `{"wikipedia_title", "text": [paragraphs], "wikipedia_id"?}`.
    Kilt,
    /// A directory with one plain-text file per page (file name = title), one paragraph a line.
    Dir,
}

impl Format {
    /// Whether records of this format are already passages (kept as they are by [`Split::Auto`]).
    pub fn is_passages(self) -> bool {
        matches!(self, Format::Contents | Format::Passages)
    }
}

written_as! {
    Format, "format",
    names { Xml => "xml", Contents => "contents", Passages => "passages", Pages => "pages",
            Kilt => "kilt", Dir => "dir" },
    aliases { "dump" => Xml, "mediawiki" => Xml, "wiki18" => Contents, "wiki-18" => Contents,
              "flashrag" => Contents, "search-r1" => Contents, "masksearch" => Dir },
}

/// When records are cut into passages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Split {
    /// Pages are split; inputs that are already passages keep their ids and text.
    #[default]
    Auto,
    /// Every record is split, passages too (ids become `<id>#<n>`).
    Always,
    /// Nothing is split: a page becomes one passage whose id is the page id.
    Never,
}

written_as! {
    Split, "split mode",
    names { Auto => "auto", Always => "always", Never => "never" },
    aliases {},
}

/// How inputs are read and chunked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The input format; `None` detects it per input from the path and the first record.
    pub format: Option<Format>,
    pub split: Split,
    /// Target passage length in words (passages end on sentence boundaries near it).
    pub words: usize,
    /// Skip and count bad records instead of reporting them as errors.
    pub skip_bad: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            format: None,
            split: Split::Auto,
            words: 100,
            skip_bad: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_written_form_many_read_forms() {
        for &(format, name) in Format::NAMES {
            assert_eq!(format.to_string(), name);
            assert_eq!(name.parse::<Format>().unwrap(), format);
            assert_eq!(name.to_uppercase().parse::<Format>().unwrap(), format);
            assert_eq!(serde_json::to_value(format).unwrap(), name);
        }
        for (alias, format) in [
            ("wiki-18", Format::Contents),
            ("Search-R1", Format::Contents),
            ("dump", Format::Xml),
            ("masksearch", Format::Dir),
        ] {
            assert_eq!(alias.parse::<Format>().unwrap(), format, "{alias}");
            assert_ne!(format.to_string(), alias, "aliases are never written");
        }
        assert_eq!(Split::Never.to_string(), "never");
        assert_eq!("ALWAYS".parse::<Split>().unwrap(), Split::Always);
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        assert_eq!(
            "csv".parse::<Format>().unwrap_err().to_string(),
            "unknown format 'csv' (expected xml, contents, passages, pages, kilt or dir)"
        );
        assert_eq!(
            "sometimes".parse::<Split>().unwrap_err().to_string(),
            "unknown split mode 'sometimes' (expected auto, always or never)"
        );
    }

    #[test]
    fn config_round_trips_as_the_manifest_records_it() {
        let config = Config {
            format: Some(Format::Kilt),
            split: Split::Never,
            words: 80,
            skip_bad: true,
        };
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"format": "kilt", "split": "never", "words": 80, "skip_bad": true})
        );
        assert_eq!(serde_json::from_value::<Config>(json).unwrap(), config);
        let default = serde_json::to_value(Config::default()).unwrap();
        assert_eq!(default["format"], serde_json::Value::Null);
        assert!(
            serde_json::from_str::<Config>(
                r#"{"format": "csv", "split": "auto", "words": 1, "skip_bad": false}"#
            )
            .is_err()
        );
    }
}
