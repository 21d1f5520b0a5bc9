"""verl custom reward function backed by masksearch's ``POST /reward`` (verl 0.9.1).

Point verl at this file (standard library only, with masksearch_student.py beside it; nothing to
install)::

    reward.custom_reward_function.path=integrations/verl/masksearch_reward.py
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.preset=masksearch-hybrid   # optional
    +reward.custom_reward_function.reward_kwargs.url=http://127.0.0.1:8000  # optional

verl's reward managers (``naive``, ``dapo``, ``MaskSearchDAPORewardManager`` below, …) call
``compute_score`` once per response with
``data_source``, ``solution_str`` (the decoded response: every assistant turn and every tool
turn between them, as the chat template rendered it), ``ground_truth``, ``extra_info`` and the
``reward_kwargs`` above; keywords it adds of its own (``reward_router_address``, …) are ignored.
``compute_score_batch`` scores many responses in one request, for callers outside verl's
per-response managers. ``MaskSearchDAPORewardManager`` is verl's ``dapo`` manager with the
overlong penalty on the tokens the model generated (run_masksearch_dapo.sh names it here)::

    reward.reward_manager.source=importlib
    reward.reward_manager.name=MaskSearchDAPORewardManager
    reward.reward_manager.module.path=integrations/verl/masksearch_reward.py

Start the server beside the trainer (``masksearch serve --index work/index``; add ``--judge``
and a model for the ``judge`` preset). Environment, used where no reward_kwargs says otherwise:

- ``MASKSEARCH_REWARD_URL``: the server (``http://127.0.0.1:8000`` or ``.../reward``); else
  ``MASKSEARCH_URL``, the address the search tool uses.
- ``MASKSEARCH_REWARD_PRESET``: ``masksearch-hybrid`` (default), ``search-r1``,
  ``search-r1-format``, ``em``, ``f1``, ``recall``, ``cover-em``, ``sub-em``, ``masks``,
  ``format`` or ``judge``.
- ``MASKSEARCH_REWARD_TIMEOUT``: seconds to wait for an answer (default 60).

``ground_truth`` is what the parquet holds: Search-R1's ``{"target": [...]}``, a list or a string
(numpy arrays, as pandas reads them back, are turned into lists). A RAMP sample carries
``extra_info["mask_num"]`` and its masked spans in order as the targets; it is scored mask by
mask. A server at its cap of requests in flight (503, or 429) is asked again after its
``Retry-After``, an unreachable one after a back-off, three attempts in all (the HTTP client of
masksearch_student.py, this folder's, which the search tool uses too). A failure raises
``MaskSearchRewardError`` with the server's reason: a reward that silently fell back to 0 would
train the policy on noise.
"""

import os
import sys

# verl loads this file by path, without its folder on sys.path: its siblings are imported by name.
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import masksearch_student  # noqa: E402

DEFAULT_PRESET = "masksearch-hybrid"
DEFAULT_TIMEOUT = 60.0


class MaskSearchRewardError(RuntimeError):
    """The reward server could not be reached or refused the request."""


def compute_score(data_source, solution_str, ground_truth, extra_info=None, preset=None, url=None, **_verl):
    """verl's custom reward function: the reward of one response, a float in [0, 1]."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], preset=preset, url=url)[0]


def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos=None, preset=None, url=None):
    """The rewards of many responses, in order, in one request."""
    if extra_infos is None:
        extra_infos = [None] * len(solution_strs)
    items = [
        {
            "data_source": _plain(source) or "",
            "solution_str": solution,
            "ground_truth": _plain(truth),
            "extra_info": _plain(extra),
        }
        for source, solution, truth, extra in zip(data_sources, solution_strs, ground_truths, extra_infos)
    ]
    preset = preset or os.environ.get("MASKSEARCH_REWARD_PRESET") or DEFAULT_PRESET
    answer = _post(_url(url), {"items": items, "preset": preset})
    scores = answer.get("scores")
    if not isinstance(scores, list) or len(scores) != len(items):
        raise MaskSearchRewardError(f"/reward answered {len(scores or [])} scores for {len(items)} items")
    return [float(s["score"]) for s in scores]


def _url(url=None):
    url = (url or os.environ.get("MASKSEARCH_REWARD_URL") or os.environ.get("MASKSEARCH_URL") or "").strip()
    if not url:
        raise MaskSearchRewardError(
            "MASKSEARCH_REWARD_URL is not set: start `masksearch serve` and set it to the server's "
            "address, e.g. http://127.0.0.1:8000"
        )
    url = url.rstrip("/")
    return url if url.endswith("/reward") else url + "/reward"


def _post(url, body):
    timeout = float(os.environ.get("MASKSEARCH_REWARD_TIMEOUT", DEFAULT_TIMEOUT))
    return masksearch_student.post_json(url, body, timeout, MaskSearchRewardError, "reward server")


def __getattr__(name):
    """``MaskSearchDAPORewardManager`` (masksearch_agent_loop.py), which verl's reward workers load
    from this file (``reward.reward_manager.source=importlib``): looked up on first use, as it
    subclasses verl's and this file is also used without verl."""
    if name == "MaskSearchDAPORewardManager":
        import masksearch_agent_loop

        return masksearch_agent_loop.MaskSearchDAPORewardManager
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _plain(value):
    """Turns what pandas / numpy hand verl (arrays, numpy scalars, NaN for a missing number)
    into JSON values."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
