"""The student format on the Python side of verl: reading a tags-style turn and answering a search.

Standard library only, so it runs (and is tested) without verl or torch. verl reaches it through
`masksearch_tools.py`, the file its `function_tool_path` loads.

- `parse_turn(text)`: the action of one assistant turn in the tags style. The Rust crate
  `student` (crates/student/src/turn.rs) is the one definition of this grammar; this is a copy
  for verl's rollout workers, held to the Rust one by the golden cases in
  `testdata/student/turns.jsonl` (see `test_masksearch_student.py`).
- `observe(queries)`: the `<information>…</information>` block the student reads after a search,
  from `masksearch serve`. `POST /observation` renders it server-side; against a server without
  that route it falls back to `POST /retrieve` and renders the block here (round-robin merge,
  duplicates removed, cut at k), a stop-gap to delete once every server has `/observation`.

Environment: `MASKSEARCH_URL` (the server, e.g. http://127.0.0.1:8000; required),
`MASKSEARCH_TOPK` (documents per search, default 3), `MASKSEARCH_SEARCH_TIMEOUT` (seconds,
default 30).
"""

import json
import os
import re
import time
import urllib.error
import urllib.request

# The tools style's tool, as crates/student/src/tools.rs defines it; the tags style's searches
# are handed to verl as calls of the same tool, so one tool answers both styles.
TOOL_NAME = "web_search"
TOOL_DESCRIPTION = "Utilize the web search engine to retrieve relevant information based on multiple queries."
TOOL_PARAMETERS = {
    "type": "object",
    "properties": {
        "queries": {
            "type": "array",
            "description": "The list of search queries.",
            "items": {"type": "string", "description": "The search query."},
        }
    },
    "required": ["queries"],
}
OPENAI_TOOL = {
    "type": "function",
    "function": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "parameters": TOOL_PARAMETERS},
}

DEFAULT_TOPK = 3
DEFAULT_TIMEOUT = 30.0

_ACTIONS = ("search", "answer")
# Rust's `char::is_whitespace` (Unicode White_Space): what `split_whitespace` splits on and
# `str::trim` strips in crates/student. Python's `str.split()` and `str.strip()` also take
# U+001C..U+001F, which are not White_Space: a query holding one would be cleaned differently.
_TRIM = "\t\n\u000b\u000c\r \u0085\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_WHITE_SPACE = re.compile(f"[{re.escape(_TRIM)}]+")


class Turn:
    """One assistant turn, read: `action` is "search", "answer" or "invalid"; `queries` the
    cleaned queries of a search; `answer` the trimmed answer; `text` the turn cut right after its
    action (what stays in the transcript)."""

    __slots__ = ("action", "queries", "answer", "text")

    def __init__(self, action, text, queries=(), answer=None):
        self.action = action
        self.text = text
        self.queries = list(queries)
        self.answer = answer

    def __repr__(self):
        return f"Turn({self.action!r}, queries={self.queries!r}, answer={self.answer!r})"


def parse_turn(generated, closed_by_stop=False):
    """Reads one generation in the tags style.

    The action is the first complete `<search>…</search>` or `<answer>…</answer>` element. A
    search holds one query per non-blank line; one with no query left after cleaning is invalid.
    `closed_by_stop` says a stop sequence (`</search>` or `</answer>`) ended the generation and
    was cut off, so a tag left open is closed, as Search-R1 does; in verl's agent loop generation
    ends at the end-of-turn token, the text is whole, and an open tag is an invalid turn.
    """
    text = generated
    if closed_by_stop:
        open_tag = _unclosed(text)
        if open_tag is not None:
            text += f"</{open_tag}>"
    found = _first_action(text)
    if found is None:
        return Turn("invalid", text)
    tag, start, content_start, content_end, end = found
    content = text[content_start:content_end]
    text = text[:end]
    if tag == "answer":
        return Turn("answer", text, answer=content.strip(_TRIM))
    queries = clean_queries(content.split("\n"))
    if not queries:
        return Turn("invalid", text)
    return Turn("search", text, queries=queries)


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


class SearchError(RuntimeError):
    """The search server could not be reached or refused the request."""


def observe(queries, topk=None, url=None):
    """The `<information>…</information>` block answering a search of `queries` (cleaned first)."""
    queries = clean_queries(queries)
    if not queries:
        raise SearchError("no query to search")
    k = int(topk or os.environ.get("MASKSEARCH_TOPK") or DEFAULT_TOPK)
    base = _base_url(url)
    try:
        answer = _post(f"{base}/observation", {"queries": queries, "topk": k})
    except _NoRoute:
        return _observe_through_retrieve(base, queries, k)
    observation = answer.get("observation")
    if not isinstance(observation, str):
        raise SearchError(f"{base}/observation answered no observation: {str(answer)[:200]}")
    return observation.strip()


def _observe_through_retrieve(base, queries, k):
    answer = _post(f"{base}/retrieve", {"queries": queries, "topk": k, "return_scores": True})
    lists = answer.get("result")
    if not isinstance(lists, list) or len(lists) != len(queries):
        raise SearchError(f"{base}/retrieve answered {str(answer)[:200]}")
    docs = [[hit.get("document", hit) for hit in hits] for hits in lists]
    hits = docs[0][:k] if len(docs) == 1 else _merge(docs, k)
    return information_block(hits)


def _merge(lists, k):
    """Rank 1 of every query, then rank 2, …, until k documents: a document already taken (same
    non-empty id, or the same text once case and white space are ignored) is skipped."""
    taken, texts = [], []
    for rank in range(max(len(docs) for docs in lists)):
        for docs in lists:
            if len(taken) == k:
                return taken
            if rank >= len(docs):
                continue
            doc = docs[rank]
            text = _WHITE_SPACE.sub(" ", doc.get("text", "")).strip(" ").lower()
            same = any(
                (doc.get("id") and other.get("id") == doc.get("id")) or (text and other_text == text)
                for other, other_text in zip(taken, texts)
            )
            if not same:
                taken.append(doc)
                texts.append(text)
    return taken


def information_block(docs):
    """Search-R1's rendering: `Doc {i}(Title: {first line of contents}) {rest}` per document."""
    lines = []
    for i, doc in enumerate(docs, 1):
        contents = doc.get("contents") or f"\"{doc.get('title', '')}\"\n{doc.get('text', '')}"
        title, _, text = contents.partition("\n")
        lines.append(f"Doc {i}(Title: {title}) {text}\n")
    return "<information>" + "".join(lines).strip(_TRIM) + "</information>"


class _NoRoute(Exception):
    pass


def _base_url(url=None):
    url = (url or os.environ.get("MASKSEARCH_URL", "")).strip().rstrip("/")
    if not url:
        raise SearchError(
            "MASKSEARCH_URL is not set: start `masksearch serve` and set it to the server's address, "
            "e.g. http://127.0.0.1:8000"
        )
    for route in ("/observation", "/retrieve"):
        if url.endswith(route):
            url = url[: -len(route)]
    return url


def _post(url, body, attempts=3):
    timeout = float(os.environ.get("MASKSEARCH_SEARCH_TIMEOUT") or DEFAULT_TIMEOUT)
    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), headers={"Content-Type": "application/json"}, method="POST"
    )
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            if e.code in (404, 405) and url.endswith("/observation"):
                raise _NoRoute() from None
            raise SearchError(f"{url}: HTTP {e.code}: {_reason(e)}") from None
        except (urllib.error.URLError, OSError) as e:
            # A server restarting or briefly overloaded: a rollout should not lose its turn to it.
            if attempt + 1 == attempts:
                reason = getattr(e, "reason", e)
                raise SearchError(f"{url}: cannot reach the search server ({reason})") from None
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def _reason(error):
    try:
        body = error.read().decode("utf-8", "replace")
    except OSError:
        return error.reason
    try:
        return json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return body or error.reason
