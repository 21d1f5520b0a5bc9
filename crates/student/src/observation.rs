//! How a student's search is answered: the one place that searches the queries of a search
//! turn, merges them, and renders the `<information>` block the student reads next. Teachers
//! answer their searches through [`observe`] too, so every block of an exported trajectory is
//! what the runtime would answer to the same turn.

use formats::Passage;
use search::{SearchError, SearchHit, Searcher};

/// What answered one search.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The documents shown, in order.
    pub hits: Vec<SearchHit>,
    /// `\n\n<information>…</information>\n\n`, as the transcript holds it ([`information_block`]).
    pub block: String,
    /// Hits left out because an earlier query had found the same passage.
    pub duplicates_removed: usize,
}

impl Observation {
    /// The block without its surrounding blank lines: the user turn (or tool message) that
    /// answers a search turn.
    pub fn turn(&self) -> &str {
        self.block.trim()
    }
}

/// Searches `queries` and renders what the student reads: each query asks for `k` documents
/// (and one more for each id in `exclude`, which are then dropped); one query shows its top `k`
/// as they come, several are merged round-robin by rank with repeats removed and cut at `k`
/// (`search::merge`, the MaskSearch teacher's merge).
pub async fn observe(
    searcher: &dyn Searcher,
    queries: &[String],
    k: usize,
    exclude: &[String],
) -> Result<Observation, SearchError> {
    let mut lists = searcher.batch_search(queries, k + exclude.len()).await?;
    for list in &mut lists {
        list.retain(|hit| !exclude.contains(&hit.passage.id));
        list.truncate(k);
    }
    let (hits, duplicates_removed) = match lists.len() {
        1 => (lists.pop().unwrap_or_default(), 0),
        _ => {
            let merged = search::merge(&lists, k);
            let removed = merged.duplicates_removed();
            (merged.hits.into_iter().map(|m| m.hit).collect(), removed)
        }
    };
    let block = information_block(&hits);
    Ok(Observation {
        hits,
        block,
        duplicates_removed,
    })
}

/// The documents of `hits`, numbered from 1, byte for byte as Search-R1 renders them
/// (`generation.py`): `Doc {i}(Title: {first line of contents}) {rest}` per hit, one per line,
/// the title keeping its quotes.
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

/// One document of a rendered block, read back (for a reader of stored trajectories).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownDoc {
    /// 1-based, as shown.
    pub n: usize,
    pub title: String,
    pub text: String,
}

/// The documents of an information block (or of [`render_docs`]' output), in order; a line
/// that does not start the next document continues the last one.
pub fn shown_docs(block: &str) -> Vec<ShownDoc> {
    let body = block.trim();
    let body = body.strip_prefix("<information>").unwrap_or(body);
    let body = body.strip_suffix("</information>").unwrap_or(body);
    let mut docs: Vec<ShownDoc> = Vec::new();
    for line in body.trim().lines() {
        if let Some(doc) = doc_head(line, docs.len() + 1) {
            docs.push(doc);
        } else if let Some(last) = docs.last_mut() {
            last.text.push('\n');
            last.text.push_str(line);
        }
    }
    docs
}

/// `Doc {n}(Title: {title}) {text}`: a quoted title may hold `) `.
fn doc_head(line: &str, n: usize) -> Option<ShownDoc> {
    let rest = line.strip_prefix(&format!("Doc {n}(Title: "))?;
    let end = match rest.strip_prefix('"') {
        Some(quoted) => quoted.find("\") ").map(|i| i + 2),
        None => rest.find(") "),
    }
    .or_else(|| rest.ends_with(')').then(|| rest.len() - 1))?;
    Some(ShownDoc {
        n,
        title: rest[..end].trim_matches('"').to_string(),
        text: rest.get(end + 2..).unwrap_or("").to_string(),
    })
}

/// A passage as a hit, for rendering what was stored.
pub fn hit(passage: Passage) -> SearchHit {
    SearchHit {
        passage,
        score: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use search::testing::Scripted;

    use super::*;

    #[test]
    fn renders_like_search_r1() {
        let hits = vec![
            hit(Passage::from_contents(
                "0",
                "\"Evan Morris\"\nEvan L. Morris was a lobbyist.\nHe died in 2015.",
            )),
            hit(Passage::new("1", "Leonardo", "An Italian polymath.")),
        ];
        let block = information_block(&hits);
        assert_eq!(
            block,
            "\n\n<information>Doc 1(Title: \"Evan Morris\") Evan L. Morris was a lobbyist.\nHe died in 2015.\nDoc 2(Title: \"Leonardo\") An Italian polymath.</information>\n\n"
        );
        assert_eq!(
            information_block(&[]),
            "\n\n<information></information>\n\n"
        );
        let docs = shown_docs(&block);
        assert_eq!(docs.len(), 2);
        let quoted = shown_docs(
            "<information>Doc 1(Title: \"Foo (band)\") Foo is a band.\nIt plays.\nDoc 2(Title: Bar) Bar text.</information>",
        );
        assert_eq!(
            (quoted[0].title.as_str(), quoted[0].text.as_str()),
            ("Foo (band)", "Foo is a band.\nIt plays.")
        );
        assert_eq!(
            (quoted[1].title.as_str(), quoted[1].text.as_str()),
            ("Bar", "Bar text.")
        );
        assert_eq!(
            (docs[0].title.as_str(), docs[0].text.as_str()),
            (
                "Evan Morris",
                "Evan L. Morris was a lobbyist.\nHe died in 2015."
            )
        );
        assert_eq!((docs[1].n, docs[1].title.as_str()), (2, "Leonardo"));
    }

    /// Three documents per query named `<query>-<rank>`; `shared` is found by every query at
    /// rank 2.
    fn lists() -> Scripted {
        Scripted::new("lists", |q, k| {
            Ok((1..=k)
                .map(|r| {
                    let id = if r == 2 {
                        "shared".into()
                    } else {
                        format!("{q}-{r}")
                    };
                    hit(Passage::new(id.clone(), id.clone(), format!("About {id}.")))
                })
                .collect())
        })
    }

    /// `(query, k)` pairs as [`Scripted::asked`] gives them.
    fn asked(pairs: &[(&str, usize)]) -> Vec<(String, usize)> {
        pairs.iter().map(|(q, k)| (q.to_string(), *k)).collect()
    }

    fn ids(o: &Observation) -> Vec<&str> {
        o.hits.iter().map(|h| h.passage.id.as_str()).collect()
    }

    #[tokio::test]
    async fn one_query_is_its_top_k_and_several_are_merged_by_rank() {
        let lists = lists();
        let one = observe(&lists, &["a".into()], 3, &[]).await.unwrap();
        assert_eq!(ids(&one), ["a-1", "shared", "a-3"]);
        assert_eq!(one.block, information_block(&one.hits));
        let many = observe(&lists, &["a".into(), "b".into()], 3, &[])
            .await
            .unwrap();
        assert_eq!(ids(&many), ["a-1", "b-1", "shared"]);
        let more = observe(&lists, &["a".into(), "b".into()], 5, &[])
            .await
            .unwrap();
        assert_eq!(ids(&more), ["a-1", "b-1", "shared", "a-3", "b-3"]);
        assert_eq!(more.duplicates_removed, 1);
        assert_eq!(
            lists.asked(),
            asked(&[("a", 3), ("a", 3), ("b", 3), ("a", 5), ("b", 5)])
        );
    }

    #[tokio::test]
    async fn excluded_ids_never_show_and_do_not_shorten_the_list() {
        let lists = lists();
        let o = observe(&lists, &["a".into()], 3, &["shared".into()])
            .await
            .unwrap();
        assert_eq!(ids(&o), ["a-1", "a-3", "a-4"]);
        assert_eq!(
            lists.asked(),
            asked(&[("a", 4)]),
            "one more for the excluded"
        );
    }
}
