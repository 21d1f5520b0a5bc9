//! Rewards for RL rollouts: what verl's custom reward function receives ([`RewardItem`]), named
//! rule presets ([`Preset`]) and the scorer ([`score`]) behind `masksearch reward`, `POST /reward`
//! and `integrations/verl/masksearch_reward.py`.
//!
//! An item is a rollout's response (`solution_str`) and its gold (`ground_truth`: Search-R1's
//! `{"target": [...]}`, a list, or one string). Its *answer* is the last `<answer>` of the
//! response ([`extract_answer`]); a response without one scores 0 on every answer score.
//!
//! A **question** item is scored against its gold aliases: `em`, `f1`, `recall` (the paper's
//! token recall), `cover_em`, `sub_em`, each the best over the aliases. A **RAMP** item (its
//! `extra_info.mask_num` is set) lists the masked spans in order as its targets and is scored
//! mask by mask ([`score_masks`]: each span looked for in the answer, in order): `masks` is the
//! share recovered, [`Reward::recovered`] says which. Every item also gets `format`, 1 when the
//! response follows Search-R1's tag grammar, else 0 — read as turns ([`check_turns_format`]): a
//! multi-turn rollout decoded without its special tokens keeps each turn's role name on a line
//! of its own, which is not the model's text. (`search-r1-format` stays Search-R1's own check.)
//!
//! | preset | score | item |
//! |---|---|---|
//! | `search-r1` | EM of the answer (Search-R1's `qa_em.compute_score_em`) | question |
//! | `search-r1-format` | Search-R1 v0.3's graded EM + format reward ([`format_reward`]) | question |
//! | `masksearch-hybrid` | `0.8 · answer + 0.2 · format`, answer = `recall` (question) or `masks` (RAMP) | both |
//! | `em`, `f1`, `recall`, `cover-em`, `sub-em` | that answer score | question |
//! | `masks` | share of masks recovered | RAMP |
//! | `format` | 1 if well formed, else 0 | both |
//!
//! `masksearch-hybrid` is the paper's "answer reward + format reward"; the paper gives no
//! weights, so they are chosen to keep the score in [0, 1] and to agree with Search-R1 v0.3's
//! grading where the two meet: a correct, well-formed answer 1.0, a correct but malformed one
//! 0.8, a well-formed wrong one 0.2. The LLM-judge preset needs a model and lives with the judge
//! (`agent::reward`).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::answer::score as answer_scores;
use crate::grammar::{check_turns_format, extract_answer, format_reward};
use crate::masks::score_masks;

/// One rollout to score, shaped like the arguments of verl's custom reward function
/// `compute_score(data_source, solution_str, ground_truth, extra_info)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardItem {
    /// The data set the prompt came from; carried along, not used to score.
    #[serde(default)]
    pub data_source: String,
    /// The model's response.
    pub solution_str: String,
    /// Gold aliases (questions) or the masked spans in order (RAMP).
    pub ground_truth: GroundTruth,
    #[serde(default, deserialize_with = "null_as_default")]
    pub extra_info: ExtraInfo,
}

/// The gold targets of an item. Reads Search-R1's `{"target": [...]}` (other keys ignored), a
/// plain list, or one string; `target` itself may be a list or one string. Writes
/// `{"target": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroundTruth(pub Vec<String>);

/// The fields of verl's `extra_info` that scoring reads; any others are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraInfo {
    /// Set on RAMP samples: the number of masks, which must be the number of targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_num: Option<usize>,
    /// The question (or masked passage) the response answers; the LLM judge reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
}

impl RewardItem {
    /// Whether the item is a RAMP sample (scored mask by mask).
    pub fn is_ramp(&self) -> bool {
        self.extra_info.mask_num.is_some()
    }
}

/// A rule-based reward preset (the crate docs' table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    SearchR1,
    SearchR1Format,
    Hybrid,
    Em,
    F1,
    Recall,
    CoverEm,
    SubEm,
    Masks,
    Format,
}

impl Preset {
    pub const ALL: [Preset; 10] = [
        Preset::SearchR1,
        Preset::SearchR1Format,
        Preset::Hybrid,
        Preset::Em,
        Preset::F1,
        Preset::Recall,
        Preset::CoverEm,
        Preset::SubEm,
        Preset::Masks,
        Preset::Format,
    ];

    /// The preset's name on the command line and the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::SearchR1 => "search-r1",
            Preset::SearchR1Format => "search-r1-format",
            Preset::Hybrid => "masksearch-hybrid",
            Preset::Em => "em",
            Preset::F1 => "f1",
            Preset::Recall => "recall",
            Preset::CoverEm => "cover-em",
            Preset::SubEm => "sub-em",
            Preset::Masks => "masks",
            Preset::Format => "format",
        }
    }

    /// Which items the preset can score.
    fn accepts(self, ramp: bool) -> bool {
        match self {
            Preset::Hybrid | Preset::Format => true,
            Preset::Masks => ramp,
            _ => !ramp,
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPreset(pub String);

impl fmt::Display for UnknownPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Preset::ALL.iter().map(|p| p.as_str()).collect();
        write!(
            f,
            "unknown reward preset {:?}; expected one of {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownPreset {}

impl FromStr for Preset {
    type Err = UnknownPreset;
    /// The names of [`Preset::as_str`]; `_` may stand for `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.replace('_', "-");
        Preset::ALL
            .into_iter()
            .find(|p| p.as_str() == wanted)
            .ok_or_else(|| UnknownPreset(s.to_string()))
    }
}

/// An item a preset cannot score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemError {
    /// A question-only preset was given a RAMP sample, or `masks` a question.
    WrongKind { preset: Preset, ramp: bool },
    /// `extra_info.mask_num` disagrees with the number of targets.
    MaskCount { mask_num: usize, targets: usize },
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemError::WrongKind { preset, ramp: true } => write!(
                f,
                "preset {preset} scores questions, and this is a RAMP sample (extra_info.mask_num is set); \
                 masks, masksearch-hybrid, format and judge score RAMP samples"
            ),
            ItemError::WrongKind {
                preset,
                ramp: false,
            } => write!(
                f,
                "preset {preset} scores RAMP samples (extra_info.mask_num set), and this is a question"
            ),
            ItemError::MaskCount { mask_num, targets } => write!(
                f,
                "extra_info.mask_num is {mask_num} but ground_truth has {targets} targets"
            ),
        }
    }
}

impl std::error::Error for ItemError {}

/// What an item scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reward {
    /// The preset's reward, in [0, 1].
    pub score: f64,
    /// The last `<answer>` of the response, trimmed; `None` when it has none.
    pub answer: Option<String>,
    /// Every score of the item, whatever the preset.
    pub parts: Parts,
    /// RAMP samples: whether each mask was recovered, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovered: Vec<bool>,
    /// The LLM judge's verdict, under the judge preset (`None`: not asked, or unclear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<bool>,
}

/// The scores behind a [`Reward`]: `format` always, the answer scores for questions, `masks`
/// for RAMP samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Parts {
    pub format: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub em: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f1: Option<f64>,
    /// The paper's token recall ([`token_recall`](crate::token_recall)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover_em: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_em: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masks: Option<f64>,
}

impl Parts {
    /// Each part by its JSON name, `None` where the item has no such score.
    pub fn named(&self) -> [(&'static str, Option<f64>); 7] {
        [
            ("format", Some(self.format)),
            ("em", self.em),
            ("f1", self.f1),
            ("recall", self.recall),
            ("cover_em", self.cover_em),
            ("sub_em", self.sub_em),
            ("masks", self.masks),
        ]
    }
}

/// The weight of `format` in `masksearch-hybrid`; the answer score has the rest.
pub const HYBRID_FORMAT_WEIGHT: f64 = 0.2;

/// Scores one item under a preset.
pub fn score(item: &RewardItem, preset: Preset) -> Result<Reward, ItemError> {
    let ramp = item.is_ramp();
    if let Some(mask_num) = item.extra_info.mask_num
        && mask_num != item.ground_truth.0.len()
    {
        return Err(ItemError::MaskCount {
            mask_num,
            targets: item.ground_truth.0.len(),
        });
    }
    if !preset.accepts(ramp) {
        return Err(ItemError::WrongKind { preset, ramp });
    }
    let golds = &item.ground_truth.0;
    let answer = extract_answer(&item.solution_str);
    let format = if check_turns_format(&item.solution_str).is_ok() {
        1.0
    } else {
        0.0
    };
    let mut parts = Parts {
        format,
        ..Parts::default()
    };
    let mut recovered = Vec::new();
    let answer_score = if ramp {
        let masks = score_masks(golds, answer.unwrap_or(""));
        recovered = masks
            .masks
            .iter()
            .map(|m| m.recovered && answer.is_some())
            .collect();
        let share = if answer.is_some() {
            masks.recovered
        } else {
            0.0
        };
        parts.masks = Some(share);
        share
    } else {
        let s = match answer {
            Some(answer) => answer_scores(answer, golds),
            None => crate::Scores::default(),
        };
        parts.em = Some(s.em);
        parts.f1 = Some(s.f1);
        parts.recall = Some(s.token_recall);
        parts.cover_em = Some(s.cover_em);
        parts.sub_em = Some(s.acc);
        s.token_recall
    };
    let score = match preset {
        Preset::SearchR1 | Preset::Em => parts.em.unwrap_or(0.0),
        Preset::SearchR1Format => format_reward(&item.solution_str, golds),
        Preset::Hybrid => {
            (1.0 - HYBRID_FORMAT_WEIGHT) * answer_score + HYBRID_FORMAT_WEIGHT * format
        }
        Preset::F1 => parts.f1.unwrap_or(0.0),
        Preset::Recall => parts.recall.unwrap_or(0.0),
        Preset::CoverEm => parts.cover_em.unwrap_or(0.0),
        Preset::SubEm => parts.sub_em.unwrap_or(0.0),
        Preset::Masks => parts.masks.unwrap_or(0.0),
        Preset::Format => format,
    };
    Ok(Reward {
        score,
        answer: answer.map(str::to_string),
        parts,
        recovered,
        judge: None,
    })
}

/// Scores a batch in order; the first item the preset cannot score stops it, with its index.
pub fn score_batch(
    items: &[RewardItem],
    preset: Preset,
) -> Result<Vec<Reward>, (usize, ItemError)> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| score(item, preset).map_err(|e| (i, e)))
        .collect()
}

/// Running means of every part and of the score, for summaries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Means {
    /// Items added.
    pub items: u64,
    score: f64,
    /// Sum and count per part, in [`Parts::named`] order.
    parts: [(f64, u64); 7],
}

impl Means {
    pub fn add(&mut self, reward: &Reward) {
        self.items += 1;
        self.score += reward.score;
        for (slot, (_, value)) in self.parts.iter_mut().zip(reward.parts.named()) {
            if let Some(v) = value {
                slot.0 += v;
                slot.1 += 1;
            }
        }
    }

    /// The mean score, 0 when no item was added.
    pub fn score(&self) -> f64 {
        if self.items == 0 {
            0.0
        } else {
            self.score / self.items as f64
        }
    }

    /// The mean of each part over the items that have it (parts no item had are left out).
    pub fn parts(&self) -> Vec<(&'static str, f64)> {
        Parts::default()
            .named()
            .iter()
            .zip(&self.parts)
            .filter(|(_, (_, n))| *n > 0)
            .map(|((name, _), (sum, n))| (*name, sum / *n as f64))
            .collect()
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl Serialize for GroundTruth {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("target", &self.0)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for GroundTruth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TargetsVisitor { in_map: false })
    }
}

/// Reads a string, a list of strings, or (at the top only) a map holding `target`.
struct TargetsVisitor {
    in_map: bool,
}

impl<'de> Visitor<'de> for TargetsVisitor {
    type Value = GroundTruth;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.in_map {
            f.write_str("a string or a list of strings as `target`")
        } else {
            f.write_str(r#"a string, a list of strings, or {"target": [...]}"#)
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<GroundTruth, E> {
        Ok(GroundTruth(vec![v.to_string()]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<GroundTruth, A::Error> {
        let mut targets = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(t) = seq.next_element::<String>()? {
            targets.push(t);
        }
        Ok(GroundTruth(targets))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GroundTruth, A::Error> {
        if self.in_map {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        }
        let mut targets = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "target" {
                targets = Some(map.next_value::<Target>()?.0);
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        targets.ok_or_else(|| de::Error::missing_field("target"))
    }
}

/// The value of `target`: a string or a list of strings.
struct Target(GroundTruth);

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(TargetsVisitor { in_map: true })
            .map(Target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: &str) -> RewardItem {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn qa(response: &str, golds: &[&str]) -> RewardItem {
        RewardItem {
            data_source: "nq".into(),
            solution_str: response.into(),
            ground_truth: GroundTruth(golds.iter().map(|g| g.to_string()).collect()),
            extra_info: ExtraInfo::default(),
        }
    }

    fn ramp(response: &str, masks: &[&str]) -> RewardItem {
        RewardItem {
            extra_info: ExtraInfo {
                mask_num: Some(masks.len()),
                question: None,
            },
            ..qa(response, masks)
        }
    }

    const GOOD: &str = "<think>t</think><answer> The Louvre </answer>";
    const MALFORMED: &str = "I think <answer>Louvre museum</answer>";

    #[test]
    fn ground_truth_reads_every_shape() {
        let cases = [
            (r#""Paris""#, vec!["Paris"]),
            (r#"["Paris", "Paname"]"#, vec!["Paris", "Paname"]),
            (
                r#"{"target": ["Paris", "Paname"]}"#,
                vec!["Paris", "Paname"],
            ),
            (
                r#"{"target": "Paris", "other": [1, {"x": 2}]}"#,
                vec!["Paris"],
            ),
            (r#"{"other": 1, "target": []}"#, vec![]),
        ];
        for (json, want) in cases {
            let got: GroundTruth =
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(got.0, want, "{json}");
        }
    }

    #[test]
    fn bad_ground_truths_say_what_was_expected() {
        for (json, says) in [
            ("42", r#"a string, a list of strings, or {"target": [...]}"#),
            (r#"{"targets": ["x"]}"#, "missing field `target`"),
            (
                r#"{"target": {"target": "x"}}"#,
                "a string or a list of strings as `target`",
            ),
            (r#"["x", 1]"#, "expected a string"),
        ] {
            let err = serde_json::from_str::<GroundTruth>(json)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{json}: {err}");
        }
    }

    #[test]
    fn items_read_verl_arguments() {
        let it = item(
            r#"{"data_source": "nq", "solution_str": "s", "ground_truth": {"target": ["a"]},
                "extra_info": {"split": "train", "index": 3, "mask_num": 1, "question": "q?"}}"#,
        );
        assert_eq!(it.extra_info.mask_num, Some(1));
        assert_eq!(it.extra_info.question.as_deref(), Some("q?"));
        assert!(it.is_ramp());
        let it = item(r#"{"solution_str": "s", "ground_truth": "a", "extra_info": null}"#);
        assert_eq!(it.extra_info, ExtraInfo::default());
        assert_eq!(it.data_source, "");
        let back: RewardItem = serde_json::from_value(serde_json::to_value(&it).unwrap()).unwrap();
        assert_eq!(back, it);
        assert!(serde_json::from_str::<RewardItem>(r#"{"ground_truth": "a"}"#).is_err());
    }

    #[test]
    fn presets_parse_by_name() {
        for p in Preset::ALL {
            assert_eq!(p.as_str().parse::<Preset>(), Ok(p));
        }
        assert_eq!("cover_em".parse::<Preset>(), Ok(Preset::CoverEm));
        let err = "bleu".parse::<Preset>().unwrap_err().to_string();
        assert!(
            err.contains("\"bleu\"") && err.contains("masksearch-hybrid"),
            "{err}"
        );
    }

    fn check(item: &RewardItem, preset: Preset, want: f64) {
        let got = score(item, preset).expect("scores").score;
        assert!(
            (got - want).abs() < 1e-12,
            "{preset} of {:?}: {got}, want {want}",
            item.solution_str
        );
    }

    #[test]
    fn search_r1_is_em_of_the_last_answer() {
        check(&qa(GOOD, &["louvre"]), Preset::SearchR1, 1.0);
        check(
            &qa("<answer>Orsay</answer><answer>Louvre</answer>", &["Louvre"]),
            Preset::SearchR1,
            1.0,
        );
        check(
            &qa("<answer>Louvre</answer><answer>Orsay</answer>", &["Louvre"]),
            Preset::SearchR1,
            0.0,
        );
        check(&qa("Louvre", &["Louvre"]), Preset::SearchR1, 0.0);
    }

    #[test]
    fn search_r1_format_is_the_graded_table() {
        check(&qa(GOOD, &["Louvre"]), Preset::SearchR1Format, 1.0);
        check(
            &qa("I think <answer>Louvre</answer>", &["Louvre"]),
            Preset::SearchR1Format,
            0.8,
        );
        check(&qa(GOOD, &["Orsay"]), Preset::SearchR1Format, 0.2);
    }

    #[test]
    fn hybrid_weighs_recall_and_format() {
        check(&qa(GOOD, &["Louvre"]), Preset::Hybrid, 1.0);
        // Malformed, recall 1 ("louvre" found in "louvre museum").
        check(&qa(MALFORMED, &["Louvre"]), Preset::Hybrid, 0.8);
        // Well formed, half the gold tokens.
        check(
            &qa(GOOD, &["Louvre Pyramid"]),
            Preset::Hybrid,
            0.8 * 0.5 + 0.2,
        );
        check(&qa(GOOD, &["Orsay"]), Preset::Hybrid, 0.2);
        check(&qa("no answer", &["Orsay"]), Preset::Hybrid, 0.0);
    }

    #[test]
    fn a_multi_turn_rollout_decoded_without_special_tokens_is_well_formed() {
        // What verl's agent loop gives a reward function: each turn's role name left on a line.
        let turns = "<think>where?</think>\n<search> Mona Lisa museum </search>\ntool\n<information>Doc 1(Title: \"Louvre\") The Louvre holds it.</information>\nassistant\n<think>Doc 1.</think>\n<answer> Louvre </answer>";
        check(&qa(turns, &["Louvre"]), Preset::Format, 1.0);
        check(&qa(turns, &["Louvre"]), Preset::Hybrid, 1.0);
        let user = turns.replace("\ntool\n", "\nuser\n");
        check(&qa(&user, &["Louvre"]), Preset::Format, 1.0);
        // Any other text between the turns is still text outside the tags.
        let chatty = turns.replace("\nassistant\n", "\nassistant: sure\n");
        check(&qa(&chatty, &["Louvre"]), Preset::Format, 0.0);
        // Search-R1's own graded reward keeps its own check.
        check(&qa(turns, &["Louvre"]), Preset::SearchR1Format, 0.8);
        // The tools style through verl's hermes path: the call reads as the search it is.
        let call = "<tool_call>\n{\"name\": \"web_search\", \"arguments\": {\"queries\": [\"Mona Lisa museum\"]}}\n</tool_call>";
        let tools = turns.replace("<search> Mona Lisa museum </search>", call);
        check(&qa(&tools, &["Louvre"]), Preset::Format, 1.0);
        // Qwen2.5's template hands a tool's answer back as a user turn wrapped in tool_response.
        let qwen = tools.replace(
            "\ntool\n<information>Doc 1(Title: \"Louvre\") The Louvre holds it.</information>\n",
            "\nuser\n<tool_response>\n<information>Doc 1(Title: \"Louvre\") The Louvre holds it.</information>\n</tool_response>\n",
        );
        assert!(qwen.contains("<tool_response>"));
        check(&qa(&qwen, &["Louvre"]), Preset::Format, 1.0);
        check(&qa(&qwen, &["Louvre"]), Preset::Hybrid, 1.0);
        // Only as the template writes it: alone on its line, between turns.
        let inline = qwen.replace(
            "<tool_response>\n<information>",
            "<tool_response><information>",
        );
        check(&qa(&inline, &["Louvre"]), Preset::Format, 0.0);
    }

    #[test]
    fn single_scores_select_one_part() {
        let it = qa(MALFORMED, &["the Louvre"]);
        check(&it, Preset::Em, 0.0);
        check(&it, Preset::F1, 2.0 / 3.0);
        check(&it, Preset::Recall, 1.0);
        check(&it, Preset::CoverEm, 1.0);
        check(&it, Preset::SubEm, 1.0);
        check(&it, Preset::Format, 0.0);
        let r = score(&it, Preset::Em).unwrap();
        assert_eq!(r.answer.as_deref(), Some("Louvre museum"));
        assert_eq!(r.parts.masks, None);
        assert!(r.recovered.is_empty());
    }

    #[test]
    fn ramp_samples_score_mask_by_mask_in_order() {
        let response =
            "<think>t</think><answer>Andrew Barto received his B.S. in physics.</answer>";
        let it = ramp(response, &["B.S.", "mathematics"]);
        let r = score(&it, Preset::Masks).unwrap();
        assert_eq!(r.recovered, [true, false]);
        assert_eq!(r.score, 0.5);
        assert_eq!(r.parts.masks, Some(0.5));
        assert_eq!(r.parts.em, None);
        check(&it, Preset::Hybrid, 0.8 * 0.5 + 0.2);
        // In order: the second mask found before the first does not count for both.
        let swapped = ramp(
            "<answer>mathematics then B.S.</answer>",
            &["B.S.", "mathematics"],
        );
        assert_eq!(score(&swapped, Preset::Masks).unwrap().score, 0.5);
        // No answer: nothing recovered, even a mask that normalises to nothing.
        let r = score(&ramp("B.S. mathematics", &["B.S.", "."]), Preset::Masks).unwrap();
        assert_eq!((r.score, r.recovered), (0.0, vec![false, false]));
    }

    #[test]
    fn presets_refuse_the_other_kind_of_item() {
        let err = score(&ramp(GOOD, &["x"]), Preset::SearchR1).unwrap_err();
        assert_eq!(
            err,
            ItemError::WrongKind {
                preset: Preset::SearchR1,
                ramp: true
            }
        );
        assert!(err.to_string().contains("RAMP sample"), "{err}");
        let err = score(&qa(GOOD, &["x"]), Preset::Masks).unwrap_err();
        assert!(err.to_string().contains("is a question"), "{err}");
        let mut bad = ramp(GOOD, &["x", "y"]);
        bad.extra_info.mask_num = Some(3);
        assert_eq!(
            score(&bad, Preset::Hybrid),
            Err(ItemError::MaskCount {
                mask_num: 3,
                targets: 2
            })
        );
    }

    #[test]
    fn batches_keep_order_and_name_the_bad_item() {
        let items = [qa(GOOD, &["Louvre"]), qa(GOOD, &["Orsay"])];
        let scores: Vec<f64> = score_batch(&items, Preset::SearchR1)
            .unwrap()
            .iter()
            .map(|r| r.score)
            .collect();
        assert_eq!(scores, [1.0, 0.0]);
        let items = [qa(GOOD, &["Louvre"]), ramp(GOOD, &["x"])];
        assert_eq!(score_batch(&items, Preset::Em).unwrap_err().0, 1);
    }

    #[test]
    fn means_cover_the_parts_each_item_has() {
        let mut means = Means::default();
        means.add(&score(&qa(GOOD, &["Louvre"]), Preset::Hybrid).unwrap());
        means.add(&score(&ramp("<answer>x</answer>", &["x", "y"]), Preset::Hybrid).unwrap());
        assert_eq!(means.items, 2);
        assert!((means.score() - (1.0 + 0.4) / 2.0).abs() < 1e-12);
        let parts = means.parts();
        assert_eq!(
            parts.iter().find(|(n, _)| *n == "format"),
            Some(&("format", 0.5))
        );
        assert_eq!(parts.iter().find(|(n, _)| *n == "em"), Some(&("em", 1.0)));
        assert_eq!(
            parts.iter().find(|(n, _)| *n == "masks"),
            Some(&("masks", 0.5))
        );
        assert_eq!(Means::default().score(), 0.0);
        assert!(Means::default().parts().is_empty());
    }

    #[test]
    fn rewards_serialise_only_the_parts_an_item_has() {
        let r = score(&ramp("<answer>x</answer>", &["x"]), Preset::Masks).unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["parts"],
            serde_json::json!({"format": 0.0, "masks": 1.0})
        );
        assert_eq!(json["recovered"], serde_json::json!([true]));
        assert!(json.get("judge").is_none());
        let back: Reward = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }
}
