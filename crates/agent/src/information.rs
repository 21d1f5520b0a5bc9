//! The `<information>` block the runtime appends after a search, byte for byte as Search-R1
//! renders it (`generation.py`): `Doc {i}(Title: {first line of contents}) {rest}` per hit,
//! one per line, the title keeping its quotes.

use search::SearchHit;

/// The documents of `hits`, numbered from 1.
pub fn render_docs(hits: &[SearchHit]) -> String {
    let mut out = String::new();
    for (i, hit) in hits.iter().enumerate() {
        let contents = hit.passage.contents();
        let (title, text) = contents.split_once('\n').unwrap_or((&contents, ""));
        out.push_str(&format!("Doc {}(Title: {title}) {text}\n", i + 1));
    }
    out
}

/// `\n\n<information>{docs, trimmed}</information>\n\n`: what follows a `</search>`.
pub fn information_block(hits: &[SearchHit]) -> String {
    format!(
        "\n\n<information>{}</information>\n\n",
        render_docs(hits).trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use formats::Passage;

    #[test]
    fn renders_like_search_r1() {
        let hits = vec![
            SearchHit {
                passage: Passage::from_contents(
                    "0",
                    "\"Evan Morris\"\nEvan L. Morris was a lobbyist.\nHe died in 2015.",
                ),
                score: 2.0,
            },
            SearchHit {
                passage: Passage::new("1", "Leonardo", "An Italian polymath."),
                score: 1.0,
            },
        ];
        assert_eq!(
            information_block(&hits),
            "\n\n<information>Doc 1(Title: \"Evan Morris\") Evan L. Morris was a lobbyist.\nHe died in 2015.\nDoc 2(Title: \"Leonardo\") An Italian polymath.</information>\n\n"
        );
        assert_eq!(
            information_block(&[]),
            "\n\n<information></information>\n\n"
        );
    }
}
