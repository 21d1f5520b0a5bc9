//! A wiki's namespace names: what a `[[Prefix:…]]` link points to (a file, a category, another
//! namespace, another wiki), learnt from a dump's `<siteinfo>` on top of English and
//! Vietnamese defaults.

/// Namespace names of a wiki, lower-cased, that decide what a `[[Prefix:…]]` link is.
#[derive(Debug, Clone)]
pub(crate) struct Namespaces {
    /// File namespace names and aliases: such links are images, dropped with their captions.
    file: Vec<String>,
    category: Vec<String>,
    /// Every other namespace: links there are shown as text but are not article anchors.
    other: Vec<String>,
}

impl Default for Namespaces {
    /// English canonical names and common aliases, plus the Vietnamese ones, so text converts
    /// sensibly even before (or without) a dump's `<siteinfo>`.
    fn default() -> Self {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        Namespaces {
            file: names(&["file", "image", "media", "tập tin", "hình", "phương tiện"]),
            category: names(&["category", "thể loại"]),
            other: names(&[
                "talk",
                "user",
                "user talk",
                "wikipedia",
                "wp",
                "project",
                "template",
                "help",
                "portal",
                "special",
                "mediawiki",
                "module",
                "draft",
                "timedtext",
                "wiktionary",
                "thảo luận",
                "thành viên",
                "bản mẫu",
                "trợ giúp",
                "cổng thông tin",
                "đặc biệt",
                "mô đun",
            ]),
        }
    }
}

impl Namespaces {
    /// Adds a namespace declared in a dump's `<siteinfo>` (`key` 6 is files, 14 categories).
    pub(crate) fn declare(&mut self, key: i64, name: &str) {
        let name = name.trim().to_lowercase();
        if name.is_empty() || key == 0 {
            return;
        }
        let list = match key {
            6 | -2 => &mut self.file,
            14 => &mut self.category,
            _ => &mut self.other,
        };
        if !list.contains(&name) {
            list.push(name);
        }
    }

    pub(super) fn kind(&self, prefix: &str) -> Option<NsKind> {
        let prefix = prefix.trim();
        let name = prefix.replace('_', " ").to_lowercase();
        if self.file.contains(&name) {
            Some(NsKind::File)
        } else if self.category.contains(&name) {
            Some(NsKind::Category)
        } else if self.other.contains(&name) {
            Some(NsKind::Other)
        } else if is_interwiki(prefix) {
            Some(NsKind::Interwiki)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NsKind {
    File,
    Category,
    Other,
    Interwiki,
}

/// Language and interwiki prefixes are written like `en`, `zh-yue`, `wikt`, `simple`: short,
/// lower-case ASCII. Article titles before a colon (`Mission: Impossible`, `Halo: Reach`) are
/// capitalised, so they never match — which is why the prefix is checked as written, not
/// lower-cased (namespace names are case-insensitive, interwiki prefixes in practice are not).
fn is_interwiki(prefix: &str) -> bool {
    (2..=12).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && prefix.as_bytes()[0] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_by_kind() {
        let ns = Namespaces::default();
        let cases = [
            ("File", Some(NsKind::File)),
            ("tập tin", Some(NsKind::File)),
            ("Image", Some(NsKind::File)),
            ("Category", Some(NsKind::Category)),
            ("Thể_loại", Some(NsKind::Category)),
            ("Wikipedia", Some(NsKind::Other)),
            (" Bản mẫu ", Some(NsKind::Other)),
            ("en", Some(NsKind::Interwiki)),
            ("zh-yue", Some(NsKind::Interwiki)),
            ("wikt", Some(NsKind::Interwiki)),
            // Article titles before a colon are capitalised or long: not namespaces.
            ("Star Wars", None),
            ("Mission", None),
            ("Halo", None),
            ("x", None),
            ("-en", None),
        ];
        for (prefix, want) in cases {
            assert_eq!(ns.kind(prefix), want, "{prefix}");
        }
    }

    #[test]
    fn siteinfo_declarations_add_names() {
        let mut ns = Namespaces::default();
        assert_eq!(ns.kind("Fichier"), None);
        ns.declare(6, "Fichier");
        ns.declare(-2, "Média");
        ns.declare(14, " Catégorie ");
        ns.declare(4, "Wikipédia");
        ns.declare(0, "Article");
        ns.declare(100, "");
        assert_eq!(ns.kind("fichier"), Some(NsKind::File));
        assert_eq!(ns.kind("Média"), Some(NsKind::File));
        assert_eq!(ns.kind("Catégorie"), Some(NsKind::Category));
        assert_eq!(ns.kind("Wikipédia"), Some(NsKind::Other));
        assert_eq!(
            ns.kind("Article"),
            None,
            "the main namespace is not a prefix"
        );
    }
}
