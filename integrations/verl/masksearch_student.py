"""The student format on the Python side of verl: reading a tags-style turn and answering a search.

Standard library only, so it runs (and is tested) without verl or torch. verl reaches it through
`masksearch_agent_loop.py` and `masksearch_tools.py`.

- `parse_turn(text, finish, thought_before)`: one assistant turn in the tags style. The Rust crate
  `student` (crates/student/src/turn.rs) is the one definition of this grammar; this is a copy
  for verl's rollout workers, held to the Rust one by the shared table of cases
  `testdata/student/turns.jsonl` (see `test_masksearch_student.py`).
- `observe(queries, exclude=…)`: the `<information>…</information>` block the student reads after
  a search, as `masksearch serve`'s `POST /observation` renders it (the one implementation of the
  multi-query merge and the rendering, crates/student/src/observation.rs).
- `OPENAI_TOOL`: the tools style's `web_search` tool, read from testdata/student/web_search_tool.json
  (the file the Rust definition, crates/student/src/tools.rs, is held equal to).
- `INVALID_ACTION_OBSERVATION`: the corrective user turn after a turn with no action
  (crates/student/src/turn.rs; the test holds this copy to it).
- `source_exclusion(extra_info)`: the passage a sample's searches must not show.

Environment: `MASKSEARCH_URL` (the server, e.g. http://127.0.0.1:8000; required),
`MASKSEARCH_TOPK` (documents per search, default 3), `MASKSEARCH_MAX_TURN_TOKENS` (tokens one
assistant turn may take in either loop, default 500 as the runtime's; 0: only what is left of
the response length), `MASKSEARCH_SEARCH_TIMEOUT` (seconds,
default 30), `MASKSEARCH_EXCLUDE_SOURCE` (`1`: a RAMP sample's searches never show its own
passage, as `masksearch trajectories --exclude-source` does).
"""

import contextvars
import json
import os
import re
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL_FILE = os.path.join(REPO, "testdata", "student", "web_search_tool.json")

with open(TOOL_FILE, encoding="utf-8") as _f:
    OPENAI_TOOL = json.load(_f)
TOOL_NAME = OPENAI_TOOL["function"]["name"]
TOOL_DESCRIPTION = OPENAI_TOOL["function"]["description"]

# Where a student turn's generation stops: right after its action.
STOPS = ("</search>", "</answer>")

# Search-R1's fixed observation after an invalid action; the user turn holds it trimmed.
INVALID_ACTION_OBSERVATION = (
    "\nMy previous action is invalid. If I want to search, I should put the query between <search> and "
    "</search>. If I want to give the final answer, I should put the answer between <answer> and </answer>. "
    "Let me try again.\n"
)

DEFAULT_TOPK = 3
# Tokens one assistant turn may take: the runtime's (crates/student/src/lib.rs,
# `MAX_TOKENS_PER_TURN`; the test holds this copy to it).
MAX_TOKENS_PER_TURN = 500
DEFAULT_TIMEOUT = 30.0

_ACTIONS = ("search", "answer")
# Rust's `char::is_whitespace` (Unicode White_Space): what `split_whitespace` splits on and
# `str::trim` strips in crates/student. Python's `str.split()` and `str.strip()` also take
# U+001C..U+001F, which are not White_Space: a query holding one would be cleaned differently.
_TRIM = "\t\n\u000b\u000c\r \u0085\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_WHITE_SPACE = re.compile(f"[{re.escape(_TRIM)}]+")


class Turn:
    """One assistant turn, read: `action` is "search", "answer" or "invalid"; `queries` the
    cleaned queries of a search; `answer` the trimmed answer; `text` what the transcript keeps
    (closed where a stop sequence cut the tag, cut after the first action); `thought` whether a
    `<think>` came before the action, in this turn or an earlier one."""

    __slots__ = ("action", "queries", "answer", "text", "thought")

    def __init__(self, action, text, queries=(), answer=None, thought=False):
        self.action = action
        self.text = text
        self.queries = list(queries)
        self.answer = answer
        self.thought = thought

    def __repr__(self):
        return f"Turn({self.action!r}, queries={self.queries!r}, answer={self.answer!r})"


def parse_turn(generated, finish="stop", thought_before=False):
    """Reads one generation in the tags style, as crates/student/src/turn.rs `parse_turn` does.

    `finish` is the generation's finish reason: "stop" (an end-of-turn token or a stop sequence,
    which was cut off: a `<search>` or `<answer>` left open is closed) or "length" (out of
    tokens: a tag left open makes the turn invalid). The action is the first complete
    `<search>…</search>` or `<answer>…</answer>` element; a search holds one query per non-blank
    line, and one with no query left after cleaning is invalid. `thought_before` says an earlier
    turn already thought; like the Rust parser's note, it changes neither the action nor the text.
    """
    text = generated
    if finish == "stop":
        open_tag = _unclosed(text)
        if open_tag is not None:
            text += f"</{open_tag}>"
    found = _first_action(text)
    if found is None:
        return Turn("invalid", text, thought=thought_before or "<think>" in text)
    tag, start, content_start, content_end, end = found
    content = text[content_start:content_end]
    thought = thought_before or "<think>" in text[:start]
    text = text[:end]
    if tag == "answer":
        return Turn("answer", text, answer=content.strip(_TRIM), thought=thought)
    queries = clean_queries(content.split("\n"))
    if not queries:
        return Turn("invalid", text, thought=thought)
    return Turn("search", text, queries=queries, thought=thought)


def clean_queries(queries):
    """Queries as the student format carries them: `<` and `>` taken out, white space collapsed to
    single spaces, blank ones and repeats dropped (crates/student/src/turn.rs `clean_queries`)."""
    out = []
    for q in queries:
        q = q.replace("<", " ").replace(">", " ")
        q = _WHITE_SPACE.sub(" ", q).strip(" ")
        if q and q not in out:
            out.append(q)
    return out


def _first_action(text):
    """(tag, start, content start, content end, end) of the first complete action element: for
    each tag its first opening and the first closing after it, the earlier of the two tags."""
    best = None
    for tag in _ACTIONS:
        start = text.find(f"<{tag}>")
        if start < 0:
            continue
        content_start = start + len(tag) + 2
        close = text.find(f"</{tag}>", content_start)
        if close < 0:
            continue
        if best is None or start < best[1]:
            best = (tag, start, content_start, close, close + len(tag) + 3)
    return best


def _unclosed(text):
    """The tag of the last `<search>` or `<answer>` opened, when the text holds no complete action."""
    if _first_action(text) is not None:
        return None
    last = max(((text.rfind(f"<{tag}>"), tag) for tag in _ACTIONS), default=(-1, None))
    return last[1] if last[0] >= 0 else None


# The passages the current rollout's searches must not show: set by the agent loop for its
# sample (each rollout runs in its own asyncio task, which copies the context), read by the tool.
EXCLUDE = contextvars.ContextVar("masksearch_exclude", default=())


def source_exclusion(extra_info, environ=None):
    """The ids of the passages a sample's searches must not show: with MASKSEARCH_EXCLUDE_SOURCE=1,
    a RAMP sample's own passage — `extra_info.passage_id`, or else the sample's `id` (RAMP names a
    sample after its passage), the rule of `masksearch trajectories --exclude-source`. Questions
    (no `passage` in extra_info) exclude nothing."""
    # os.environ is looked up at each call: `datasets` (under verl's RLHFDataset) puts a copy in
    # its place while it filters with num_proc, so a mapping bound earlier goes stale.
    flag = (os.environ if environ is None else environ).get("MASKSEARCH_EXCLUDE_SOURCE", "").strip()
    if flag in ("", "0"):
        return []
    if flag != "1":
        raise ValueError(f"MASKSEARCH_EXCLUDE_SOURCE is 1 or 0, not {flag!r}")
    extra_info = extra_info or {}
    if not extra_info.get("passage"):
        return []
    source = extra_info.get("passage_id") or extra_info.get("id")
    if not source:
        raise ValueError(f"MASKSEARCH_EXCLUDE_SOURCE=1, but a RAMP row names no passage: {str(extra_info)[:200]}")
    return [str(source)]


def max_turn_tokens():
    """The most tokens one assistant turn may take (`MASKSEARCH_MAX_TURN_TOKENS`), None for no cap."""
    value = os.environ.get("MASKSEARCH_MAX_TURN_TOKENS", "").strip()
    if not value:
        return MAX_TOKENS_PER_TURN
    if not value.isdigit():
        raise ValueError(f"MASKSEARCH_MAX_TURN_TOKENS={value!r} is not a number of tokens")
    return int(value) or None


class SearchError(RuntimeError):
    """The search server could not be reached or refused the request."""


def observe(queries, topk=None, url=None, exclude=()):
    """The `<information>…</information>` block answering a search of `queries` (cleaned first),
    none of the passages in `exclude` shown: `POST /observation` of masksearch serve."""
    queries = clean_queries(queries)
    if not queries:
        raise SearchError("no query to search")
    k = int(topk or os.environ.get("MASKSEARCH_TOPK") or DEFAULT_TOPK)
    body = {"queries": queries, "topk": k}
    if exclude:
        body["exclude"] = list(exclude)
    route = f"{_base_url(url)}/observation"
    timeout = float(os.environ.get("MASKSEARCH_SEARCH_TIMEOUT") or DEFAULT_TIMEOUT)
    answer = post_json(route, body, timeout, SearchError, "search server", hints=_NO_OBSERVATION)
    observation = answer.get("observation")
    if not isinstance(observation, str):
        raise SearchError(f"{route} answered no observation: {str(answer)[:200]}")
    return observation.strip()


_NO_OBSERVATION = dict.fromkeys(
    (404, 405),
    "this server has no POST /observation, which answers the student's searches; run a masksearch "
    "serve built from a current checkout",
)


def _base_url(url=None):
    url = (url or os.environ.get("MASKSEARCH_URL", "")).strip().rstrip("/")
    if not url:
        raise SearchError(
            "MASKSEARCH_URL is not set: start `masksearch serve` and set it to the server's address, "
            "e.g. http://127.0.0.1:8000"
        )
    return url.removesuffix("/observation")


def post_json(url, body, timeout, error, server, attempts=3, hints=None):
    """POSTs `body` as JSON to `url` and returns the decoded answer: the one HTTP client of this
    folder (the search here, the reward in masksearch_reward.py). A 429 or 503 (a server at its
    cap of requests in flight, as under a rollout batch) is asked again after its
    `Retry-After`; a server that cannot be reached (restarting, briefly overloaded) after a
    back-off; `attempts` in all. A server that takes the request and does not answer within
    `timeout` seconds is not asked again. A failure raises `error` naming the URL, `server`
    (what it is) and the server's reason; `hints` maps a status to a message that replaces the reason."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), headers={"Content-Type": "application/json"}, method="POST"
    )
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            if e.code in (429, 503) and attempt + 1 < attempts:
                time.sleep(_retry_after(e))
                continue
            raise error(f"{url}: HTTP {e.code}: {(hints or {}).get(e.code) or _reason(e)}") from None
        except TimeoutError:
            # It took the request and did not answer: asking again would wait as long again.
            raise error(f"{url}: no answer within {timeout} s") from None
        except (urllib.error.URLError, OSError) as e:
            if attempt + 1 == attempts:
                reason = getattr(e, "reason", e)
                raise error(f"{url}: cannot reach the {server} ({reason})") from None
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def _retry_after(error, most=30.0):
    """The seconds a refusal's `Retry-After` asks for (1 when it names none; at most `most`)."""
    try:
        return min(max(float(error.headers.get("Retry-After", 1)), 0.0), most)
    except (TypeError, ValueError):
        return 1.0


def _reason(error):
    """The message of the server's JSON error body, or the raw body."""
    try:
        body = error.read().decode("utf-8", "replace")
    except OSError:
        return error.reason
    try:
        return json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return body or error.reason
