//! LLM span extraction: the paper's few-shot "knowledge entities" prompt and a parser that
//! treats the answer as untrusted data.
//!
//! The prompt follows the original `gen_qa.py` `ner` step: one system message ("You are a
//! helpful assistant."), one user message with the rules and four worked examples on the same
//! topics as the original (a 1980 Taiwan murder case, a ShanghaiTech spintronics paper, the
//! load factor of a hash table, Dalian's buses), then `Paragraph: …` / `Entities:`. The
//! original's exact example paragraphs were not available to us; the rules are ported one for
//! one, the example paragraphs are rewritten on the same topics. The Chinese variant adds the
//! original's extra rule that entities are Chinese or digits.
//!
//! The original ran Python `eval` on the answer. Here the answer is parsed as a JSON list of
//! strings, from the first `[` on; a list written with single quotes is converted to JSON by a
//! small tokenizer (never evaluated). Each entity must be a short string that occurs verbatim,
//! as whole words, in the passage; everything else is counted and dropped.

use chat::{ChatRequest, Message};

use crate::{
    Lang,
    spans::{Span, SpanKind, word_occurrences},
};

const SYSTEM: &str = "You are a helpful assistant.";

const PROMPT_EN: &str = r#"Please extract all the knowledge entities in the paragraph below (more than 5 if there are that many). Knowledge entities are: specific people, locations, organizations, conferences, journals, short academic concepts, and unique short numbers.
Requirements:
1. When several entities are next to each other, extract the finest-grained one.
2. Output only the list of entities, nothing else.
3. Each entity is at most 10 characters long.
4. Do not extract repeated entities.
5. Extract whole words: extract [American], not [America]n.
6. An entity must not be inferable from the paragraph itself: finding it must need an Internet search.

Paragraph: In the early morning of 28 February 1980, the mother and twin daughters of Lin Yi-hsiung, a provincial assemblyman detained after the Kaohsiung Incident, were killed in his home in Taipei while the house was under police watch. The case was never solved.
Entities: ["1980", "Lin Yi-hsiung", "Kaohsiung Incident", "Taipei"]

Paragraph: A team at ShanghaiTech University reported in Physical Review Letters that a current through a tungsten layer can switch the magnetization of an adjacent cobalt film through the spin Hall effect, a step towards low-power spintronics memory.
Entities: ["ShanghaiTech", "Physical Review Letters", "tungsten", "cobalt", "spin Hall effect", "spintronics"]

Paragraph: The load factor of a hash table is the number of stored entries divided by the number of buckets. Java's HashMap doubles its bucket array when the load factor exceeds 0.75, which keeps chains short under separate chaining.
Entities: ["load factor", "Java", "HashMap", "0.75", "separate chaining"]

Paragraph: Dalian in Liaoning province is one of the few cities in mainland China whose tram network survived the 20th century; its buses are run by Dalian Public Transport Group, and route 202 links the city centre with Lushunkou.
Entities: ["Dalian", "Liaoning", "tram", "Dalian Public Transport Group", "202", "Lushunkou"]

Paragraph: {paragraph}
Entities:"#;

const PROMPT_ZH: &str = r#"请抽取下面段落中所有的知识实体（如果有的话，多于5个）。知识实体包括：具体的人物、地点、组织机构、会议、期刊、简短的学术概念以及独特的简短数字。
要求：
1. 多个实体相邻时，抽取粒度最细的实体。
2. 只输出实体列表，不要输出其他内容。
3. 每个实体不超过10个字。
4. 不要抽取重复的实体。
5. 抽取完整的词语。
6. 实体不能从段落本身推断出来，即需要通过互联网搜索才能得知。
7. 实体必须是中文或数字。

段落：1980年2月28日清晨，因美丽岛事件被羁押的台湾省议员林义雄的母亲和一对双胞胎女儿在台北家中遇害，当时住宅处于警方监控之下。此案至今未破。
实体：["1980年", "林义雄", "美丽岛事件", "台北"]

段落：上海科技大学的研究团队在《物理评论快报》上报告，电流通过钨层时可借助自旋霍尔效应翻转相邻钴薄膜的磁化方向，为低功耗自旋电子学存储器迈出了一步。
实体：["上海科技大学", "物理评论快报", "钨", "钴", "自旋霍尔效应", "自旋电子学"]

段落：哈希表的装载因子是已存储的元素个数除以桶的个数。Java的HashMap在装载因子超过0.75时将桶数组扩大一倍，从而在拉链法下保持链表较短。
实体：["装载因子", "0.75", "拉链法"]

段落：辽宁省大连市是中国大陆少数保留有轨电车网络的城市之一；公交车由大连公交集团运营，202路连接市中心与旅顺口。
实体：["大连", "辽宁省", "有轨电车", "大连公交集团", "202", "旅顺口"]

段落：{paragraph}
实体："#;

/// The chat request asking for the knowledge entities of `paragraph`. Greedy decoding, so a
/// response cache makes reruns exact; 160 tokens hold a list of 15+ short entities.
pub fn request(paragraph: &str, lang: Lang, seed: u64) -> ChatRequest {
    let template = match lang {
        Lang::En => PROMPT_EN,
        Lang::Zh => PROMPT_ZH,
    };
    ChatRequest {
        messages: vec![
            Message::system(SYSTEM),
            Message::user(template.replace("{paragraph}", paragraph)),
        ],
        temperature: Some(0.0),
        max_tokens: Some(160),
        // The few-shot format: a model that goes on writes the next example.
        stop: vec!["\nParagraph:".into(), "\n段落：".into()],
        seed: Some(seed),
        ..ChatRequest::default()
    }
}

/// Why an entity proposed by the model was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    NotAString,
    Empty,
    TooLong,
    NotVerbatim,
    Duplicate,
}

impl Rejected {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejected::NotAString => "not_a_string",
            Rejected::Empty => "empty",
            Rejected::TooLong => "too_long",
            Rejected::NotVerbatim => "not_verbatim",
            Rejected::Duplicate => "duplicate",
        }
    }
}

/// A model answer checked against its passage.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Extraction {
    /// Whether the answer held a list at all; `false` makes the passage a skip.
    pub valid_list: bool,
    /// Entities proposed by the model.
    pub proposed: usize,
    /// Spans of the accepted entities (each at its whole-word occurrences).
    pub spans: Vec<Span>,
    pub accepted: usize,
    pub rejected: Vec<Rejected>,
}

/// Longest accepted entity: a name or term, not a clause.
const MAX_WORDS: usize = 8;
const MAX_CHARS_EN: usize = 80;
const MAX_CHARS_ZH: usize = 20;

/// Parses `answer` as a list of entities and keeps those that occur verbatim in `text`.
pub fn validate(answer: &str, text: &str, lang: Lang) -> Extraction {
    let Some(items) = parse_list(answer) else {
        return Extraction::default();
    };
    let mut out = Extraction {
        valid_list: true,
        proposed: items.len(),
        ..Extraction::default()
    };
    let mut seen = std::collections::HashSet::new();
    for item in items {
        let entity = match item {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            _ => {
                out.rejected.push(Rejected::NotAString);
                continue;
            }
        };
        let entity = entity.trim();
        let chars = entity.chars().count();
        let reason = if entity.is_empty() {
            Some(Rejected::Empty)
        } else if entity.split_whitespace().count() > MAX_WORDS
            || chars
                > match lang {
                    Lang::En => MAX_CHARS_EN,
                    Lang::Zh => MAX_CHARS_ZH,
                }
        {
            Some(Rejected::TooLong)
        } else if !seen.insert(entity.to_string()) {
            Some(Rejected::Duplicate)
        } else {
            None
        };
        if let Some(reason) = reason {
            out.rejected.push(reason);
            continue;
        }
        let found = word_occurrences(text, entity);
        if found.is_empty() {
            out.rejected.push(Rejected::NotVerbatim);
            continue;
        }
        out.accepted += 1;
        out.spans.extend(found.into_iter().map(|start| Span {
            start,
            end: start + entity.len(),
            kind: SpanKind::Llm,
        }));
    }
    out
}

/// The first list in `answer`: JSON from the first `[`, or failing that the same text with
/// single-quoted strings rewritten as JSON strings. `None` if there is no list.
pub fn parse_list(answer: &str) -> Option<Vec<serde_json::Value>> {
    let from = answer.find('[')?;
    let tail = &answer[from..];
    first_array(tail).or_else(|| first_array(&single_quotes_to_json(tail)?))
}

fn first_array(text: &str) -> Option<Vec<serde_json::Value>> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    match stream.next()? {
        Ok(serde_json::Value::Array(items)) => Some(items),
        _ => None,
    }
}

/// Rewrites a Python-style list (`['a', "b's", 'c\'d']`) as JSON, up to its closing `]`.
/// Only quoting changes; anything that is not a string is copied as is for the JSON parser
/// to accept or reject.
fn single_quotes_to_json(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push('"');
                let mut closed = false;
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => match chars.next()? {
                            '\'' => out.push('\''),
                            e => {
                                out.push('\\');
                                out.push(e);
                            }
                        },
                        '"' if c == '\'' => out.push_str("\\\""),
                        d if d == c => {
                            closed = true;
                            break;
                        }
                        d if d.is_control() => out.push_str(&format!("\\u{:04x}", d as u32)),
                        d => out.push(d),
                    }
                }
                if !closed {
                    return None;
                }
                out.push('"');
            }
            '[' => {
                depth += 1;
                out.push(c);
            }
            ']' => {
                out.push(c);
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(out);
                }
            }
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(answer: &str, expect: Option<&[&str]>) {
        let got = parse_list(answer).map(|v| {
            v.into_iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect::<Vec<_>>()
        });
        let expect = expect.map(|e| e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, expect, "answer {answer:?}");
    }

    #[test]
    fn parses_lists_tolerantly() {
        check(r#"["a", "b"]"#, Some(&["a", "b"]));
        check(
            r#"Entities: ["a", "b"] and more text ["c"]"#,
            Some(&["a", "b"]),
        );
        check(
            "['Ann Arbor', \"O'Neil\", 'it\\'s']",
            Some(&["Ann Arbor", "O'Neil", "it's"]),
        );
        check("['say \"hi\"']", Some(&["say \"hi\""]));
        check("[1998, 'x']", Some(&["1998", "x"]));
        check("no list here", None);
        check("['unterminated", None);
        check("[__import__('os').system('rm -rf /')]", None);
        check("{\"a\": 1}", None);
        check("[", None);
    }

    #[test]
    fn validation_counts_each_rejection() {
        let text = "Stanley Kubrick directed 2001: A Space Odyssey in 1968 with Arthur C. Clarke.";
        let answer = r#"["Stanley Kubrick", "1968", "Kubrick's", "", {"x": 1}, "1968", "Clarke", "Ridley Scott", "a b c d e f g h i"]"#;
        let e = validate(answer, text, Lang::En);
        assert!(e.valid_list);
        assert_eq!(e.proposed, 9);
        assert_eq!(e.accepted, 3);
        assert_eq!(
            e.rejected,
            [
                Rejected::NotVerbatim,
                Rejected::Empty,
                Rejected::NotAString,
                Rejected::Duplicate,
                Rejected::NotVerbatim,
                Rejected::TooLong
            ]
        );
        let surfaces: Vec<&str> = e.spans.iter().map(|s| &text[s.start..s.end]).collect();
        assert_eq!(surfaces, ["Stanley Kubrick", "1968", "Clarke"]);
        assert!(!validate("I cannot help", text, Lang::En).valid_list);
    }

    #[test]
    fn chinese_entities_match_inside_unspaced_text() {
        let text = "林义雄是台湾政治人物，生于宜兰。";
        let e = validate("['林义雄', '宜兰', '台北']", text, Lang::Zh);
        assert_eq!(e.accepted, 2);
        assert_eq!(e.rejected, [Rejected::NotVerbatim]);
    }

    #[test]
    fn prompt_carries_the_paragraph_last() {
        let r = request("Some text.", Lang::En, 7);
        assert_eq!(r.messages.len(), 2);
        assert!(
            r.messages[1]
                .content
                .ends_with("Paragraph: Some text.\nEntities:")
        );
        let r = request("一些文字", Lang::Zh, 7);
        assert!(r.messages[1].content.ends_with("段落：一些文字\n实体："));
    }
}
