"""Passages embedded per second by sentence-transformers: the same model, the same text of each
passage as `masksearch index --dense` reads (title, newline, text), batches of 32.

    st_rate.py MODEL_DIR PASSAGES_JSONL [LIMIT]
"""

import json
import sys
import time

from sentence_transformers import SentenceTransformer

model_dir, path = sys.argv[1], sys.argv[2]
limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
texts = []
with open(path) as f:
    for line in f:
        p = json.loads(line)
        texts.append(f"{p['title']}\n{p['text']}")
texts = texts[:limit]
model = SentenceTransformer(model_dir, device="cpu")
model.encode(texts[:64], batch_size=32)
started = time.perf_counter()
model.encode(texts, batch_size=32, normalize_embeddings=True)
took = time.perf_counter() - started
print(f"sentence-transformers: {len(texts):,} passages in {took:.1f} s, {len(texts) / took:.1f} passages/s")
