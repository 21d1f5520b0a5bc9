#!/usr/bin/env python3
"""Reference answers for the `metrics` crate, computed the way the Python peers compute them.

Regenerate (standard library only, run from the repository root):

    python3 crates/metrics/tests/golden/reference.py > crates/metrics/tests/golden/cases.jsonl

Every line is one JSON object with a "kind":
- "answer": a prediction and its gold aliases, with the normalised strings and every answer score
  (FlashRAG's em / acc / f1 / precision / recall, R1-Searcher's cover-EM, and token recall);
- "r1-searcher": the same under R1-Searcher's normalisation, with precision and recall taken from
  the alias with the best F1 as R1-Searcher's evaluation script does;
- "tags": a response, the last <answer> Search-R1 would extract from it and whether Search-R1's
  state machine calls its tag sequence valid;
- "official": a tricky case (articles, punctuation, unicode, numbers, lists, empty answers,
  yes/no) with the scores of the official SQuAD v1.1 `evaluate-v1.1.py` (EM and F1, maximised over
  the gold answers) and of HotpotQA's `hotpot_evaluate_v1.py` (EM, F1, precision, recall of the
  first gold, the only one HotpotQA has).

The definitions below are written from the peers' documented behaviour (see the crate docs), not
copied; `tests/golden.rs` checks the Rust implementation against every line, and
`tests/python_reference.rs` checks that this file still produces the committed `cases.jsonl`.
Cases use only characters assigned in Unicode 13, so any Python 3.9+ writes the same file.
"""

import json
import random
import re
import string
from collections import Counter

# --- the definitions -----------------------------------------------------------------------------


def normalize(s):
    """lower -> drop string.punctuation -> articles to a space -> collapse whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


R1_MARKS = set(string.punctuation) | {"\u2018", "\u2019", "\u00b4"}


def r1_normalize(s):
    """R1-Searcher: a whole "True" / "False" reads "yes" / "no"; "_" -> space; lower; every
    punctuation mark (string.punctuation and three quote marks) -> space; articles to a space;
    collapse whitespace."""
    s = {"True": "yes", "False": "no"}.get(s, s)
    s = s.replace("_", " ").lower()
    s = "".join(" " if ch in R1_MARKS else ch for ch in s)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact_match(pred, golds, norm=normalize):
    p = norm(pred)
    return float(any(norm(g) == p for g in golds))


def sub_exact_match(pred, golds, norm=normalize):
    p = norm(pred)
    return float(any(norm(g) in p for g in golds))


def cover_exact_match(pred, golds, norm=normalize):
    # Tokens by split(" "), so an empty normalised gold is [""] and matches only an empty prediction.
    pred_tokens = norm(pred).split(" ")
    best = 0.0
    for g in golds:
        if all(t in pred_tokens for t in norm(g).split(" ")):
            best = 1.0
    return best


def alias_f1(p, n):
    """(f1, precision, recall) of normalised prediction p against normalised alias n, or None."""
    special = ("yes", "no", "noanswer")
    if (p in special or n in special) and p != n:
        return None
    pt, gt = p.split(), n.split()
    same = sum((Counter(pt) & Counter(gt)).values())
    if same == 0:
        return None
    precision = 1.0 * same / len(pt)
    recall = 1.0 * same / len(gt)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1, precision, recall


def token_f1(pred, golds):
    best = {"f1": 0.0, "precision": 0.0, "recall": 0.0}
    p = normalize(pred)
    for g in golds:
        scored = alias_f1(p, normalize(g))
        if scored is None:
            continue
        f1, precision, recall = scored
        best["f1"] = max(best["f1"], f1)
        best["precision"] = max(best["precision"], precision)
        best["recall"] = max(best["recall"], recall)
    return best


def r1_token_f1(pred, golds):
    """The first alias with the best F1 gives all three (0 when none shares a token)."""
    best = (0.0, 0.0, 0.0)
    p = r1_normalize(pred)
    for g in golds:
        scored = alias_f1(p, r1_normalize(g))
        if scored is not None and scored[0] > best[0]:
            best = scored
    return {"f1": best[0], "precision": best[1], "recall": best[2]}


def token_recall(pred, golds, norm=normalize):
    pt = norm(pred).split()
    best = 0.0
    for g in golds:
        gt = norm(g).split()
        if not gt:
            continue
        same = sum((Counter(pt) & Counter(gt)).values())
        best = max(best, same / len(gt))
    return best


def last_answer(response):
    found = list(re.finditer(r"<answer>(.*?)</answer>", response, re.DOTALL))
    return found[-1].group(1).strip() if found else None


TAGS = ("think", "search", "information", "answer")
# (state, tag) -> next state: think -> (search -> information -> think)* -> answer.
MOVES = {
    ("start", "<think>"): "in_think",
    ("information", "<think>"): "in_think",
    ("in_think", "</think>"): "after_think",
    ("after_think", "<search>"): "in_search",
    ("in_search", "</search>"): "after_search",
    ("after_search", "<information>"): "in_information",
    ("in_information", "</information>"): "information",
    ("after_think", "<answer>"): "in_answer",
    ("in_answer", "</answer>"): "end",
}


def valid_sequence(response):
    for tag in TAGS:
        if response.count(f"<{tag}>") != response.count(f"</{tag}>"):
            return False
    state = "start"
    for part in re.split(r"(</?(?:think|search|information|answer)>)", response):
        if not part.strip():
            continue
        if re.fullmatch(r"</?(?:think|search|information|answer)>", part):
            state = MOVES.get((state, part))
            if state is None:
                return False
        elif not state.startswith("in_"):
            return False
    return state == "end"


# The official scripts' definitions, written the way they are laid out there (a normaliser of four
# nested helpers; F1 from a Counter intersection; SQuAD maximises over its gold answers, HotpotQA
# has one gold and zeroes F1 when a side is yes / no / noanswer and the two differ).


def squad_normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def squad_f1_score(prediction, ground_truth):
    prediction_tokens = squad_normalize_answer(prediction).split()
    ground_truth_tokens = squad_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def squad_exact_match_score(prediction, ground_truth):
    return squad_normalize_answer(prediction) == squad_normalize_answer(ground_truth)


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    return max(metric_fn(prediction, gt) for gt in ground_truths)


def hotpot_f1_score(prediction, ground_truth):
    normalized_prediction = squad_normalize_answer(prediction)
    normalized_ground_truth = squad_normalize_answer(ground_truth)
    zero_metric = (0, 0, 0)
    special = ["yes", "no", "noanswer"]
    if normalized_prediction in special and normalized_prediction != normalized_ground_truth:
        return zero_metric
    if normalized_ground_truth in special and normalized_prediction != normalized_ground_truth:
        return zero_metric
    prediction_tokens = normalized_prediction.split()
    ground_truth_tokens = normalized_ground_truth.split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return zero_metric
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1, precision, recall


# (category, prediction, gold answers); HotpotQA scores against the first gold.
OFFICIAL = [
    ("articles", "The Beatles", ["Beatles"]),
    ("articles", "an Apple a day", ["apple day"]),
    ("articles", "A", ["an"]),
    ("articles", "Theodore", ["odore"]),
    ("articles", "the the the beatles", ["Beatles"]),
    ("articles", "Anne of the Thousand Days", ["Anne of Thousand Days"]),
    ("punctuation", "U.S.", ["US"]),
    ("punctuation", "U.S.", ["U S"]),
    ("punctuation", "rock-and-roll", ["rock and roll"]),
    ("punctuation", "O'Neill", ["ONeill"]),
    ("punctuation", "\"Hey Jude\"", ["Hey Jude"]),
    ("punctuation", "Hey, Jude!", ["hey jude"]),
    ("punctuation", "(1999)", ["1999"]),
    ("punctuation", "‘Hey Jude’", ["Hey Jude"]),
    ("punctuation", "1939–1945", ["1939 1945"]),
    ("unicode", "Zürich", ["Zurich"]),
    ("unicode", "ZÜRICH", ["zürich"]),
    ("unicode", "Ελλάδα", ["ελλάδα"]),
    ("unicode", "東京都", ["東京"]),
    ("unicode", "the\u00a0Beatles", ["Beatles"]),
    ("unicode", "Straße", ["strasse"]),
    ("unicode", "café", ["cafe\u0301"]),
    ("numbers", "1,000", ["1000"]),
    ("numbers", "3.14", ["3.14"]),
    ("numbers", "3.14", ["3 14"]),
    ("numbers", "$5 million", ["5 million"]),
    ("numbers", "1990s", ["1990"]),
    ("numbers", "50%", ["50 percent"]),
    ("numbers", "twenty two", ["22"]),
    ("numbers", "22", ["22", "twenty-two"]),
    ("lists", "Paris, London and Berlin", ["Paris"]),
    ("lists", "London and Paris", ["Paris and London"]),
    ("lists", "Paris Paris Paris", ["Paris"]),
    ("lists", "Paris", ["Paris Paris"]),
    ("lists", "red green", ["red", "red green blue black"]),
    ("lists", "Lennon", ["Paul McCartney", "John Lennon"]),
    ("empty", "", ["Paris"]),
    ("empty", "Paris", [""]),
    ("empty", "", [""]),
    ("empty", "...", ["the"]),
    ("empty", "   ", ["Paris"]),
    ("yes/no", "yes", ["Yes."]),
    ("yes/no", "yes", ["no"]),
    ("yes/no", "Yes, it is", ["yes"]),
    ("yes/no", "no", ["no way"]),
    ("yes/no", "noanswer", ["no answer"]),
]


def official_case(category, pred, golds):
    f1, precision, recall = hotpot_f1_score(pred, golds[0])
    return {
        "kind": "official",
        "category": category,
        "prediction": pred,
        "golds": golds,
        "squad_em": float(metric_max_over_ground_truths(squad_exact_match_score, pred, golds)),
        "squad_f1": float(metric_max_over_ground_truths(squad_f1_score, pred, golds)),
        "hotpot_em": float(squad_exact_match_score(pred, golds[0])),
        "hotpot_f1": float(f1),
        "hotpot_precision": float(precision),
        "hotpot_recall": float(recall),
    }


# --- the cases -----------------------------------------------------------------------------------

HAND_ANSWERS = [
    ("The Eiffel Tower", ["Eiffel Tower"]),
    ("the eiffel tower.", ["Eiffel Tower", "La tour Eiffel"]),
    ("A", ["a"]),
    ("an apple", ["apple"]),
    ("theater", ["the ater"]),
    ("anthem", ["them"]),
    ("The the the", [""]),
    ("", [""]),
    ("", ["The"]),
    ("Paris", []),
    ("Paris", ["", "Paris"]),
    ("yes", ["Yes"]),
    ("yes", ["no"]),
    ("Yes, it is", ["yes"]),
    ("no answer", ["noanswer"]),
    ("noanswer", ["no answer"]),
    ("It was 1,000,000 dollars", ["1000000"]),
    ("3.14", ["314"]),
    ("U.S.A.", ["USA"]),
    ("Barack Obama and Michelle Obama", ["Obama"]),
    ("Obama Obama", ["Barack Obama"]),
    ("new york new york", ["New York"]),
    ("New York", ["new york new york"]),
    ("Saint-Étienne", ["Saint Étienne", "SaintÉtienne"]),
    ("MÜNCHEN", ["München"]),
    ("Straße", ["STRASSE"]),
    ("ΟΔΥΣΣΕΥΣ", ["οδυσσευς", "οδυσσεύς"]),
    ("İstanbul", ["istanbul", "i̇stanbul"]),
    ("the\u00a0Beatles", ["Beatles"]),
    ("the\u3000Beatles", ["Beatles"]),
    ("the\x1cBeatles", ["Beatles"]),
    ("the\u200bBeatles", ["Beatles"]),
    ("a_b", ["ab"]),
    ("the_end", ["end"]),
    ("thé", ["th"]),
    ("the\u0301 end", ["end"]),
    ("a\u093e b", ["b"]),
    ("Ⓐthe", ["ⓐ"]),
    ("the½", ["½"]),
    ("the٣", ["٣"]),
    ("東京 the 大阪", ["東京 大阪"]),
    ("«the» answer", ["answer"]),
    ("“The” Answer", ["“” answer"]),
    ("the—end", ["—end"]),
    ("'the' end", ["end"]),
    ("Leonardo da Vinci", ["da Vinci"]),
    ("Leonardo", ["Leonardo da Vinci"]),
    ("da Vinci Leonardo", ["Leonardo da Vinci"]),
    ("party", ["art"]),
    ("1998", ["98"]),
    ("   ", ["  "]),
    ("\t\n", ["the"]),
    ("THE AN A", ["an"]),
    ("aN An", [""]),
    ("an an an", ["an"]),
    ("Answer: 42", ["42", "forty-two"]),
    ("forty two", ["forty-two"]),
    ("fortytwo", ["forty-two"]),
]

PIECES = [
    "a", "an", "the", "The", "A", "AN", "THE", "an", "the", "a",
    "paris", "Paris", "London", "New", "York", "1998", "3.5", "42", "yes", "no", "noanswer",
    "theatre", "anna", "at", "and", "then", "x",
    " ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u2003", "\u3000", "\x1c", "\x1f", "\u2028", "\u200b",
    ".", ",", "!", "?", "'", '"', "-", "_", "(", ")", "[", "]", "{", "}", "@", "#", "$", "%", "&",
    "*", "+", "/", ":", ";", "<", ">", "=", "\\", "^", "`", "|", "~",
    "«", "»", "“", "”", "‘", "’", "—", "–", "…", "¿", "¡", "·",
    "É", "é", "Ä", "ß", "ǅ", "İ", "ı", "Σ", "ΣΑ", "ς", "Ω", "Δ", "Ж", "ж", "ﬁ", "Ⅻ", "ⅻ",
    "\u0301", "\u0308", "\u093e", "\u0915", "Ⓐ", "ⓐ", "½", "²", "٣", "߀", "東京", "大阪", "한국",
    "😀", "🇫🇷", "\u0130the", "the\u0301", "a\u0300",
]


def random_text(rng, max_pieces):
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, max_pieces)))


def answer_case(pred, golds, kind="answer", norm=normalize, f1_of=token_f1):
    f1 = f1_of(pred, golds)
    return {
        "kind": kind,
        "prediction": pred,
        "golds": golds,
        "normalized_prediction": norm(pred),
        "normalized_golds": [norm(g) for g in golds],
        "em": exact_match(pred, golds, norm),
        "acc": sub_exact_match(pred, golds, norm),
        "cover_em": cover_exact_match(pred, golds, norm),
        "f1": f1["f1"],
        "precision": f1["precision"],
        "recall": f1["recall"],
        "token_recall": token_recall(pred, golds, norm),
    }


def r1_case(pred, golds):
    return answer_case(pred, golds, "r1-searcher", r1_normalize, r1_token_f1)


# Where R1-Searcher's normalisation differs from SQuAD's, and where it does not.
R1_HAND = [
    ("U.S.A.", ["USA"]),
    ("U.S.A.", ["u s a"]),
    ("rock-'n'-roll", ["rock n roll"]),
    ("O’Neill", ["Neill"]),
    ("‘Hey Jude’", ["Hey Jude"]),
    ("´the´ end", ["end"]),
    ("True", ["yes"]),
    ("False", ["no"]),
    (" False ", ["no"]),
    ("yes", ["True"]),
    ("true", ["yes"]),
    ("the_Beatles", ["Beatles"]),
    ("snake_case", ["case snake"]),
    ("red green", ["red", "red green blue black"]),
    ("red green", ["red green blue black", "red"]),
    ("1,000", ["1000"]),
    ("a.n", ["n"]),
    ("Paris", []),
    ("", [""]),
]

R1_PIECES = PIECES + ["True", "False", "´", "_", "‘", "’", "a.n", "U.S."]


HAND_TAGS = [
    "<think>t</think><answer>a</answer>",
    "<think>t</think><search>q</search><information>d</information><think>t</think><answer>a</answer>",
    "  <think> t </think>\n<answer> Paris </answer>\n",
    "<think>t</think><answer>a</answer> trailing",
    "<think>t</think><answer>a</answer><answer>b</answer>",
    "<answer>a</answer>",
    "text <think>t</think><answer>a</answer>",
    "<think>t</think> text <answer>a</answer>",
    "<think>t</think><search>q</search><think>t</think><answer>a</answer>",
    "<think>t</think><search>q</search><information>d</information><answer>a</answer>",
    "<think>t<answer>a</answer></think>",
    "<think>t</think><answer>a",
    "<think>t</think><answer></answer>",
    "<think></think><answer>x</answer>",
    "<think>t</think><answer>a</answer>\x1c",
    "<think>t</think><answer>a</answer>\u200b",
    "<think>t</think><Answer>a</Answer><answer>b</answer>",
    "<think>t</think><answer >a</answer>",
    "<answer> first </answer> <answer> second </answer>",
    "<answer>\n multi\nline \n</answer>",
    "<answer><answer>x</answer>",
    "<answer>x</answer></answer>",
    "</answer><answer>x",
    "no tags at all",
    "",
]

TAG_PIECES = [
    "<think>", "</think>", "<search>", "</search>", "<information>", "</information>",
    "<answer>", "</answer>", "<think>", "</think>", "<answer>", "</answer>",
    "<Answer>", "<answer ", "</ answer>", "<thinking>",
    "Paris", "query", "Doc 1(Title: x) y", " ", "\n", "\n\n", "\u00a0", "\x1d", "\u200b", "",
]


def tags_case(response):
    return {
        "kind": "tags",
        "response": response,
        "answer": last_answer(response),
        "valid": valid_sequence(response),
    }


def well_formed(rng):
    parts = ["<think>", rng.choice(["", "plan", " why? "]), "</think>"]
    for _ in range(rng.randint(0, 3)):
        parts += ["\n<search>", rng.choice(["q", "who"]), "</search>"]
        parts += ["\n\n<information>", "Doc 1(Title: x) y", "</information>\n\n"]
        parts += ["<think>", "t", "</think>"]
    parts += ["<answer>", rng.choice(["Paris", " the Louvre ", ""]), "</answer>"]
    return "".join(parts)


def mutate(rng, text):
    """A well-formed response with one piece inserted, dropped or swapped."""
    i = rng.randint(0, len(text))
    op = rng.randint(0, 2)
    if op == 0:
        return text[:i] + rng.choice(TAG_PIECES) + text[i:]
    for tag in rng.sample(TAG_PIECES[:8], 8):
        if tag in text:
            if op == 1:
                return text.replace(tag, "", 1)
            return text.replace(tag, rng.choice(TAG_PIECES[:8]), 1)
    return text


def main():
    rng = random.Random(20261127)
    cases = [answer_case(p, g) for p, g in HAND_ANSWERS]
    for _ in range(300):
        pred = random_text(rng, 12)
        golds = [random_text(rng, 6) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.3 and golds:
            pred = pred + rng.choice(PIECES) + rng.choice(golds)
        cases.append(answer_case(pred, golds))
    cases += [tags_case(r) for r in HAND_TAGS]
    for _ in range(100):
        cases.append(tags_case(well_formed(rng)))
    for _ in range(150):
        cases.append(tags_case(mutate(rng, well_formed(rng))))
    for _ in range(50):
        cases.append(tags_case("".join(rng.choice(TAG_PIECES) for _ in range(rng.randint(0, 10)))))
    cases += [official_case(*case) for case in OFFICIAL]
    # A stream of its own, so the cases above stay as they were.
    rng = random.Random(20260317)
    cases += [r1_case(p, g) for p, g in R1_HAND]
    for _ in range(300):
        pred = "".join(rng.choice(R1_PIECES) for _ in range(rng.randint(0, 12)))
        golds = ["".join(rng.choice(R1_PIECES) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.3 and golds:
            pred = pred + rng.choice(R1_PIECES) + rng.choice(golds)
        elif rng.random() < 0.1:
            pred = rng.choice(["True", "False"])
        cases.append(r1_case(pred, golds))
    for case in cases:
        print(json.dumps(case, ensure_ascii=False))


if __name__ == "__main__":
    main()
