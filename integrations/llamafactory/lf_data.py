"""LLaMA-Factory's own data code run over a `masksearch export sft` folder, with or without torch.

LLaMA-Factory (`llamafactory==0.9.5`) reads a sharegpt dataset in three steps, and this module
calls each of them, unchanged, from the installed package:
  1. `llamafactory.data.parser.get_dataset_list` reads `dataset_info.json` into a DatasetAttr;
  2. `SharegptDatasetConverter` (`llamafactory.data.converter`) aligns the turns, or logs
     "Skipping this abnormal example" and leaves the prompt empty;
  3. `SupervisedDatasetProcessor` (`llamafactory.data.processor.supervised`) renders the turns
     with a chat template (`llamafactory.data.template`) into input ids and labels.

Its modules import torch, torchaudio and friends at the top of the file (for multimodal inputs
and the trainer), yet none of that runs for text-only sharegpt data. Where torch is not installed
(`make setup`'s .venv, CI), `stand_in_for_torch()` answers those imports with inert modules so
the data code can load; every function that is then called is LLaMA-Factory's real one. Where
torch is installed (the train-demo virtualenv) nothing is stood in.

Used by integrations/check_export.py (CI, no torch) and scripts/train-demo.sh (before training).
"""

import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import types

# Packages LLaMA-Factory imports at module level that text-only data loading never calls into.
HEAVY = ("torch", "torchaudio", "torchvision", "torchdata", "av", "peft", "trl", "accelerate")


class _Inert(types.ModuleType):
    """A module whose every attribute is another inert module: enough for `import torch`,
    `from torch.utils.data import Dataset`, annotations and base classes at import time."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert(f"{self.__name__}.{name}")

    def __call__(self, *args, **kwargs):
        return _Inert(f"{self.__name__}()")

    def __mro_entries__(self, bases):
        return (object,)

    def __getitem__(self, key):
        return object

    def __or__(self, other):
        return object

    __ror__ = __or__


class _StandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in HEAVY:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _Inert(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def stand_in_for_torch():
    """Installs the inert stand-ins unless torch is really there; True when they were needed."""
    if importlib.util.find_spec("torch") is not None:
        return False
    if not any(isinstance(f, _StandIn) for f in sys.meta_path):
        sys.meta_path.insert(0, _StandIn())
    return True


def load_llamafactory():
    """LLaMA-Factory's data modules: (parser, converter, template, supervised, DataArguments)."""
    os.environ.setdefault("DISABLE_VERSION_CHECK", "1")
    os.environ.setdefault("LLAMAFACTORY_VERBOSITY", "ERROR")  # our own messages name the line and rule
    stand_in_for_torch()
    from llamafactory.data import converter, parser, template
    from llamafactory.data.processor import supervised
    from llamafactory.hparams import DataArguments

    return parser, converter, template, supervised, DataArguments


class Encoded:
    """One example as LLaMA-Factory trains on it."""

    def __init__(self, line, example, messages, system, input_ids, labels):
        self.line = line
        self.example = example
        self.messages = messages  # the converter's _prompt + _response
        self.system = system
        self.input_ids = input_ids
        self.labels = labels


def encode(dataset_dir, dataset_name, tokenizer, template_name, cutoff_len=100_000):
    """Yields every line of `dataset_name` (an entry of DATASET_DIR/dataset_info.json) as
    LLaMA-Factory's converter and supervised processor see it. A line the converter skips, the
    processor drops or the template cannot encode raises ValueError naming the line."""
    parser, converter, template_module, supervised, DataArguments = load_llamafactory()
    data_args = DataArguments(template=template_name, dataset_dir=dataset_dir, dataset=dataset_name,
                              cutoff_len=cutoff_len)
    (attr,) = parser.get_dataset_list([dataset_name], dataset_dir)
    if attr.formatting != "sharegpt":
        raise ValueError(f"{dataset_name}: formatting {attr.formatting!r}, not sharegpt")
    convert = converter.get_dataset_converter(attr.formatting, attr, data_args)
    template = template_module.get_template_and_fix_tokenizer(tokenizer, data_args)
    processor = supervised.SupervisedDatasetProcessor(template=template, tokenizer=tokenizer, processor=None,
                                                      data_args=data_args)
    path = os.path.join(dataset_dir, attr.dataset_name)
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            example = json.loads(line)
            aligned = convert(example)
            where = f"{path}:{number}"
            if not aligned["_prompt"]:
                raise ValueError(f"{where}: LLaMA-Factory's sharegpt converter skips this example")
            batch = {key: [value] for key, value in aligned.items()}
            try:
                out = processor.preprocess_dataset(batch)
            except Exception as e:  # a formatter refusing a turn, e.g. a function_call that is not JSON
                raise ValueError(f"{where}: LLaMA-Factory's {template_name} template cannot encode it: "
                                 f"{type(e).__name__}: {e}") from e
            if not out["input_ids"]:
                raise ValueError(f"{where}: LLaMA-Factory's supervised processor drops this example")
            yield Encoded(number, example, aligned["_prompt"] + aligned["_response"], aligned["_system"],
                          out["input_ids"][0], out["labels"][0])


def runtime_chatml(messages, add_generation_prompt):
    """The text `masksearch llm serve` gives the model for `messages` with a ChatML GGUF
    (llama.cpp's built-in chatml rendering: no default system message, nothing trimmed)."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def runtime_turns(messages):
    """The conversation as `masksearch eval --methods agent --mode turns` sends it: every
    observation a `user` turn (the runtime has no other role for information)."""
    return [{"role": "assistant" if m["role"] in ("assistant", "function") else "user",
             "content": m["content"]} for m in messages]
