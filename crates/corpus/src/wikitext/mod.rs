//! Wikitext → plain-text paragraphs with link anchors.
//!
//! Two passes over one page, each in its own module: [`strip`] removes what is never prose
//! (templates, refs, tables, files, comments) and notices disambiguation templates; [`render`]
//! turns what is left into paragraphs, resolving links into anchors. [`namespaces`] tells what
//! a `[[Prefix:…]]` link is; [`entities`] decodes HTML entities.

mod entities;
mod namespaces;
mod render;
mod strip;

pub(crate) use namespaces::Namespaces;

use crate::page::Paragraph;

/// A page's wikitext converted.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    pub paragraphs: Vec<Paragraph>,
    /// The page carries a disambiguation template or magic word.
    pub disambiguation: bool,
}

/// Converts one page's wikitext (already XML-unescaped) to paragraphs with link anchors.
pub(crate) fn convert(wikitext: &str, ns: &Namespaces) -> Converted {
    let mut disambiguation = false;
    let stripped = strip::strip(wikitext, ns, &mut disambiguation);
    let paragraphs = render::render(&stripped, ns);
    Converted {
        paragraphs,
        disambiguation: disambiguation || stripped.contains("__DISAMBIG__"),
    }
}

/// Whether the wikitext is a redirect (`#REDIRECT [[…]]` and its localisations).
pub(crate) fn is_redirect(wikitext: &str) -> bool {
    let Some(rest) = wikitext.trim_start().strip_prefix('#') else {
        return false;
    };
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphabetic())
        .collect::<String>()
        .to_lowercase();
    const REDIRECT: &[&str] = &[
        "redirect",
        "đổi",
        "chuyển",
        "weiterleitung",
        "redirection",
        "redirección",
        "redirecionamento",
        "rinvia",
        "doorverwijzing",
        "перенаправление",
        "重定向",
        "転送",
        "przekieruj",
    ];
    REDIRECT.contains(&word.as_str())
}

/// Titles like `Foo (disambiguation)` / `Foo (định hướng)`.
pub(crate) fn is_disambiguation_title(title: &str) -> bool {
    let t = title.to_lowercase();
    t.ends_with("(disambiguation)") || t.ends_with("(định hướng)")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::chunk::{chunk, tests::markup};

    /// Paragraphs as `[surface](Target)` markup joined by ` ¶ `, every anchor's offsets checked
    /// on the way.
    pub(super) fn shown(paragraphs: &[Paragraph]) -> String {
        let paras: Vec<String> = paragraphs
            .iter()
            .map(|p| {
                let c = &chunk(std::slice::from_ref(p), None)[0];
                for a in &c.anchors {
                    assert!(a.surface(&c.text).is_some(), "{c:?}");
                }
                markup(&c.text, &c.anchors)
            })
            .collect();
        paras.join(" ¶ ")
    }

    /// Converts `wikitext` (both passes) and compares the paragraphs shown as markup.
    fn check(wikitext: &str, expect: &str) {
        let converted = convert(wikitext, &Namespaces::default());
        assert_eq!(
            shown(&converted.paragraphs),
            expect,
            "wikitext: {wikitext:?}"
        );
    }

    #[test]
    fn what_strip_leaves_is_rendered_cleanly() {
        check(
            "'''Hà Lan''' ({{IPA-nl|ˈneːdərlɑnt}}) là một quốc gia.",
            "Hà Lan là một quốc gia.",
        );
        check(
            "Born ({{birth date|1990}}, Paris) here",
            "Born (Paris) here",
        );
        check(
            "{{lang|fr|la [[Seine]]}}, {{lang-de|Rhein}}, {{convert|5|km|mi}}",
            "la [Seine](Seine), Rhein, 5 km",
        );
        check("đoạn [<nowiki/>[[0 (số)|0]], 1]", "đoạn [[0](0 (số)), 1]");
        check(
            "A [[File:x.jpg|thumb|A [[nested]] caption]] B<ref>x</ref>.",
            "A B.",
        );
        check(
            "Before.\n{| class=\"wikitable\"\n| cell\n|}\nAfter.",
            "Before. ¶ After.",
        );
        check(
            "Table:\n::{| border=1\n! Năm\n|-\n| 1923\n|}\nAfter.",
            "Table: ¶ After.",
        );
        check(
            "== Tham khảo ==\n{{tham khảo}}\n== Liên kết ngoài ==\n* [http://x.vn Trang]",
            "",
        );
    }

    #[test]
    fn redirects_and_disambiguation() {
        assert!(is_redirect("#REDIRECT [[Foo]]"));
        assert!(is_redirect("  #redirect[[Foo]]"));
        assert!(is_redirect("#đổi [[Alexandre de Rhodes]]"));
        assert!(is_redirect("#CHUYỂN [[X]]"));
        assert!(!is_redirect("# A numbered list item"));
        assert!(!is_redirect("Text"));
        let ns = Namespaces::default();
        for text in [
            "'''Mercury''' may refer to:\n* [[Mercury (planet)]]\n{{disambiguation}}",
            "X\n{{Disambig|geo}}",
            "X\n{{hndis|Smith, John}}",
            "X\n{{Trang định hướng}}",
            "X\n{{định hướng}}",
            "X\n{{Place name disambiguation}}",
            "X __DISAMBIG__",
        ] {
            assert!(convert(text, &ns).disambiguation, "{text}");
        }
        assert!(!convert("Text {{Infobox disambiguation finder}} {{cite}}", &ns).disambiguation);
        assert!(is_disambiguation_title("Mercury (disambiguation)"));
        assert!(is_disambiguation_title("Huế (định hướng)"));
        assert!(!is_disambiguation_title("Disambiguation (linguistics)"));
    }

    #[test]
    fn titles_with_a_colon_are_article_links() {
        check(
            "[[Mission: Impossible]] and [[Halo: Reach|Reach]] are titles; [[fr:Halo]] is not.",
            "[Mission: Impossible](Mission: Impossible) and [Reach](Halo: Reach) are titles; is not.",
        );
    }

    #[test]
    fn unbalanced_markup_does_not_eat_the_page() {
        check(
            "A {{broken template\n\nNext paragraph.",
            "A broken template ¶ Next paragraph.",
        );
        check("A [[broken link\n\nB.", "A [[broken link ¶ B.");
    }

    #[test]
    fn siteinfo_namespaces_reach_both_passes() {
        let mut ns = Namespaces::default();
        ns.declare(6, "Fichier");
        ns.declare(14, "Catégorie");
        ns.declare(4, "Wikipédia");
        let c = convert(
            "[[Fichier:x.jpg|cap]] [[Catégorie:Y]] [[Wikipédia:Aide|aide]] fin",
            &ns,
        );
        assert_eq!(c.paragraphs[0].text, "aide fin");
        assert!(c.paragraphs[0].links.is_empty());
    }
}

#[cfg(test)]
mod properties {
    //! Any wikitext converts without a panic into paragraphs whose links lie inside their text,
    //! on character boundaries, sorted and apart (`crate::invariants`, which the fuzz target
    //! runs too). `PROPTEST_CASES` raises the case count.

    use proptest::prelude::*;

    /// Wikitext built from the markup the converter reads (links, templates, refs, tables,
    /// files, comments, entities, headings, lists, bold) around text in several scripts.
    fn wikitext() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("[[".to_owned()),
            Just("]]".to_owned()),
            Just("|".to_owned()),
            Just("{{".to_owned()),
            Just("}}".to_owned()),
            Just("{|".to_owned()),
            Just("|}".to_owned()),
            Just("<ref>".to_owned()),
            Just("</ref>".to_owned()),
            Just("<ref name=x/>".to_owned()),
            Just("<!--".to_owned()),
            Just("-->".to_owned()),
            Just("[[File:x.png|thumb|cap [[y]]]]".to_owned()),
            Just("[[Category:Z]]".to_owned()),
            Just("[[Paris|the city]]".to_owned()),
            Just("[http://e.org label]".to_owned()),
            Just("&amp;&nbsp;&#x27;&bogus;".to_owned()),
            Just("\n== H ==\n".to_owned()),
            Just("\n* ".to_owned()),
            Just("\n\n".to_owned()),
            Just("'''".to_owned()),
            Just("Hà Nội ".to_owned()),
            Just("東京 ".to_owned()),
            "[a-z ]{0,8}",
            any::<String>(),
        ];
        prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn links_lie_inside_their_paragraph_on_char_boundaries(text in wikitext()) {
            crate::invariants::wikitext(&text);
        }
    }
}
