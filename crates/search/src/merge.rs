//! Merging the result lists of several rewritten queries into one list, as the multi-agent
//! teacher feeds its Observer: round-robin by rank, cut at `k`, duplicates removed and recorded.

use serde::{Deserialize, Serialize};

use crate::SearchHit;

/// The merged list and where each part of it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Merged {
    /// At most `k` hits: rank 1 of every query (in query order), then rank 2, …
    pub hits: Vec<MergedHit>,
    /// Hits left out because an earlier hit of the merged list is the same passage, in the
    /// order they were met. Only hits reached before the list was full are counted.
    pub duplicates: Vec<Duplicate>,
}

/// One hit of a merged list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedHit {
    pub hit: SearchHit,
    /// Index of the query (in the lists given to [`merge`]) that found it.
    pub query: usize,
    /// Its rank in that query's list, 1 = best.
    pub rank: usize,
}

/// A hit left out of a merged list as a duplicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duplicate {
    pub query: usize,
    pub rank: usize,
    /// Position (0-based) in [`Merged::hits`] of the hit it repeats.
    pub same_as: usize,
}

impl Merged {
    /// How many hits were removed as duplicates.
    pub fn duplicates_removed(&self) -> usize {
        self.duplicates.len()
    }
}

/// Merges one result list per query the way MaskSearch's teacher does — rank 1 of every query,
/// then rank 2, …, stopping at `k` hits or when every list is exhausted — except that a hit
/// repeating one already taken is skipped (and recorded) instead of taking a slot.
///
/// Two hits are the same passage when they have the same non-empty id (a web result's link,
/// an index passage id) or the same non-empty text once case and runs of white space are
/// ignored (one snippet served under two links, one passage under two ids).
pub fn merge(lists: &[Vec<SearchHit>], k: usize) -> Merged {
    let mut merged = Merged {
        hits: Vec::new(),
        duplicates: Vec::new(),
    };
    let mut texts: Vec<String> = Vec::new();
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    for rank in 0..longest {
        for (query, list) in lists.iter().enumerate() {
            if merged.hits.len() == k {
                return merged;
            }
            let Some(hit) = list.get(rank) else {
                continue;
            };
            let text = normalise(&hit.passage.text);
            let rank = rank + 1;
            match position_of_same(&merged.hits, &texts, hit, &text) {
                Some(same_as) => merged.duplicates.push(Duplicate {
                    query,
                    rank,
                    same_as,
                }),
                None => {
                    merged.hits.push(MergedHit {
                        hit: hit.clone(),
                        query,
                        rank,
                    });
                    texts.push(text);
                }
            }
        }
    }
    merged
}

/// The position of the hit in `taken` that `hit` repeats; `texts[i]` is `taken[i]`'s
/// normalised text.
fn position_of_same(
    taken: &[MergedHit],
    texts: &[String],
    hit: &SearchHit,
    text: &str,
) -> Option<usize> {
    let id = hit.passage.id.as_str();
    taken.iter().zip(texts).position(|(other, other_text)| {
        (!id.is_empty() && other.hit.passage.id == id) || (!text.is_empty() && other_text == text)
    })
}

/// Lower case, white space runs collapsed to one space, trimmed; one allocation (this runs for
/// every hit of every merge).
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

#[cfg(test)]
mod tests {
    use formats::Passage;

    use super::*;

    /// A hit written `id=text` (`=text` for an empty id).
    fn hit(spec: &str) -> SearchHit {
        let (id, text) = spec.split_once('=').unwrap_or((spec, spec));
        SearchHit {
            passage: Passage::new(id, "T", text),
            score: 1.0,
        }
    }

    /// Merges lists of hit specs and shows the result as `query.rank:id` for each hit (the
    /// text when the id is empty) and `query.rank->position` for each duplicate.
    fn check(lists: &[&[&str]], k: usize, expect_hits: &str, expect_duplicates: &str) {
        let lists: Vec<Vec<SearchHit>> = lists
            .iter()
            .map(|list| list.iter().map(|s| hit(s)).collect())
            .collect();
        let merged = merge(&lists, k);
        let hits: Vec<String> = merged
            .hits
            .iter()
            .map(|h| {
                let p = &h.hit.passage;
                let label = if p.id.is_empty() { &p.text } else { &p.id };
                format!("{}.{}:{label}", h.query, h.rank)
            })
            .collect();
        let duplicates: Vec<String> = merged
            .duplicates
            .iter()
            .map(|d| format!("{}.{}->{}", d.query, d.rank, d.same_as))
            .collect();
        assert_eq!(hits.join(" "), expect_hits, "hits");
        assert_eq!(duplicates.join(" "), expect_duplicates, "duplicates");
        assert_eq!(merged.duplicates_removed(), merged.duplicates.len());
    }

    #[test]
    fn round_robin_by_rank_then_cut_at_k() {
        check(
            &[&["a", "b", "c"], &["d", "e", "f"], &["g", "h", "i"]],
            10,
            "0.1:a 1.1:d 2.1:g 0.2:b 1.2:e 2.2:h 0.3:c 1.3:f 2.3:i",
            "",
        );
        check(
            &[&["a", "b", "c"], &["d", "e", "f"]],
            3,
            "0.1:a 1.1:d 0.2:b",
            "",
        );
    }

    #[test]
    fn short_and_empty_lists_are_skipped() {
        check(
            &[&[], &["a", "b", "c"], &["d"]],
            10,
            "1.1:a 2.1:d 1.2:b 1.3:c",
            "",
        );
        check(&[], 10, "", "");
        check(&[&[], &[]], 10, "", "");
        check(&[&["a"]], 0, "", "");
    }

    #[test]
    fn same_id_is_a_duplicate() {
        check(
            &[&["a=one", "b=two"], &["a=one again", "c=three"]],
            10,
            "0.1:a 0.2:b 1.2:c",
            "1.1->0",
        );
    }

    #[test]
    fn same_text_under_another_id_is_a_duplicate() {
        check(
            &[
                &["a=Mona  Lisa\tis a painting"],
                &["b=mona lisa is a painting", "c=other"],
            ],
            10,
            "0.1:a 1.2:c",
            "1.1->0",
        );
        // Hits without ids are told apart by text alone.
        check(
            &[&["=x", "=y"], &["=X", "=z"]],
            10,
            "0.1:x 0.2:y 1.2:z",
            "1.1->0",
        );
    }

    #[test]
    fn empty_ids_and_empty_texts_are_never_the_same() {
        check(&[&["=", "a="], &["="]], 10, "0.1: 1.1: 0.2:a", "");
    }

    #[test]
    fn a_duplicate_does_not_take_a_slot() {
        // Without dedup the cut would keep a, a, b; with it the third slot goes to c.
        check(
            &[&["a", "b"], &["a", "c"]],
            3,
            "0.1:a 0.2:b 1.2:c",
            "1.1->0",
        );
    }

    #[test]
    fn duplicates_after_the_cut_are_not_counted() {
        check(&[&["a", "b"], &["c", "a"]], 2, "0.1:a 1.1:c", "");
    }

    #[test]
    fn serialises_with_query_rank_and_flat_hits() {
        let merged = merge(&[vec![hit("7=x")], vec![hit("7=x")]], 5);
        let json = serde_json::to_value(&merged).unwrap();
        assert_eq!(json["hits"][0]["query"], 0);
        assert_eq!(json["hits"][0]["rank"], 1);
        assert_eq!(json["hits"][0]["hit"]["id"], "7");
        assert_eq!(
            json["duplicates"],
            serde_json::json!([{"query": 1, "rank": 1, "same_as": 0}])
        );
    }
}
