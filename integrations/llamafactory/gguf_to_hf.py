#!/usr/bin/env python3
"""A GGUF checkpoint as a Hugging Face folder that LLaMA-Factory can fine-tune.

    gguf_to_hf.py MODEL.gguf OUT_DIR

transformers reads GGUF for llama-family models (`gguf_file=`): the tensors are dequantized to
fp32 and the tokenizer is rebuilt from the GGUF's vocabulary, merges and special tokens. This
writes OUT_DIR (config.json, model.safetensors, tokenizer files) and checks what training and
serving rely on: the chat template came along, end-of-turn is `<|im_end|>`, and the rebuilt
tokenizer splits a ChatML conversation with the special tokens whole. It prints one JSON line
with the figures (parameters, vocabulary, template, eos). Run with the train-demo virtualenv.
"""

import json
import os
import sys


def fix_special_tokens(tokenizer, gguf_path):
    """The special tokens and the BOS rule as the GGUF states them. transformers 4.57's GGUF
    tokenizer converter for BPE ("gpt2") vocabularies reads the eos token from the bos id and
    then swaps the two (integrations/ggml.py, GGUFLlamaConverter), so SmolLM2 comes out with
    eos = bos = <|im_start|>, and it adds a BOS the GGUF says not to add (llama.cpp does not)."""
    from gguf import GGUFReader

    fields = GGUFReader(gguf_path).fields

    def value(key):
        return fields[key].contents() if key in fields else None

    tokens = fields["tokenizer.ggml.tokens"]
    for role in ("bos", "eos", "unknown", "padding"):
        token_id = value(f"tokenizer.ggml.{role}_token_id")
        if token_id is not None:
            attribute = {"unknown": "unk_token", "padding": "pad_token"}.get(role, f"{role}_token")
            setattr(tokenizer, attribute, tokens.contents(token_id))
    add_bos = value("tokenizer.ggml.add_bos_token")
    if add_bos is not None and hasattr(tokenizer, "add_bos_token"):
        tokenizer.add_bos_token = bool(add_bos)


# The byte-level BPE that GGUF's "gpt2" tokenizer model with the "smollm" pre-tokenizer means,
# as llama.cpp applies it: every digit split off on its own, then GPT-2's regex, then bytes
# mapped to unicode; no byte fallback, no normalizer. transformers 4.57 rebuilds it as a
# SentencePiece-style hybrid (byte_fallback, a "▁" decoder, no digit split), which tokenizes
# " 1889" differently from llama.cpp and which llama.cpp's converter no longer recognises as
# SmolLM's tokenizer (it writes tokenizer.ggml.model "llama", pre "default").
PRE_TOKENIZER = {"type": "Sequence", "pretokenizers": [
    {"type": "Digits", "individual_digits": True},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
]}
DECODER = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}


def byte_level_tokenizer(tokenizer):
    """`tokenizer` (transformers' GGUF rebuild) as the byte-level BPE llama.cpp runs."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    spec["normalizer"] = None
    spec["pre_tokenizer"] = PRE_TOKENIZER
    spec["decoder"] = DECODER
    spec["model"]["byte_fallback"] = False
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(spec)),
        bos_token=tokenizer.bos_token, eos_token=tokenizer.eos_token,
        unk_token=tokenizer.unk_token, pad_token=tokenizer.pad_token,
        chat_template=tokenizer.chat_template, clean_up_tokenization_spaces=False,
    )


def main(argv):
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    gguf_path, out = os.path.abspath(argv[1]), argv[2]
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = os.path.split(gguf_path)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    fix_special_tokens(tokenizer, gguf_path)
    tokenizer = byte_level_tokenizer(tokenizer)

    problems = []
    if not tokenizer.chat_template or "<|im_start|>" not in tokenizer.chat_template:
        problems.append(f"no ChatML chat template came along: {tokenizer.chat_template!r}")
    if tokenizer.eos_token != "<|im_end|>":
        problems.append(f"eos is {tokenizer.eos_token!r}, not <|im_end|>")
    ids = tokenizer.encode("<|im_start|>user\nhi<|im_end|>\n", add_special_tokens=False)
    specials = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_start|>", "<|im_end|>")]
    if ids[0] != specials[0] or specials[1] not in ids:
        problems.append(f"special tokens are split: {ids}")
    if tokenizer("hi").input_ids[0] == tokenizer.bos_token_id:
        problems.append("the tokenizer adds a BOS the GGUF says not to add")
    if problems:
        for p in problems:
            print(f"gguf_to_hf: {p}", file=sys.stderr)
        return 1

    model.save_pretrained(out, safe_serialization=True)
    # tokenizer.json only: the "slow" files transformers would add are a copy of the GGUF itself
    # (its vocab_file), which llama.cpp's converter then misreads as a SentencePiece model.
    tokenizer.save_pretrained(out, legacy_format=False)
    print(json.dumps({
        "gguf": gguf_path,
        "out": out,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab": len(tokenizer),
        "eos": tokenizer.eos_token,
        "tie_word_embeddings": bool(model.config.tie_word_embeddings),
        "chat_template": tokenizer.chat_template,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
