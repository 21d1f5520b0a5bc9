"""masksearch's search tool and tags-style tool parser for verl's tool agent loop (verl 0.9.1).

Give verl this file as its function tool file; loading it registers both parts in every process
that loads tools (the trainer's dataset and each agent loop worker), before any rollout starts:

    actor_rollout_ref.rollout.multi_turn.enable=true
    actor_rollout_ref.rollout.multi_turn.function_tool_path=integrations/verl/masksearch_tools.py
    actor_rollout_ref.rollout.multi_turn.format=masksearch_tags   # tags style; hermes for tools style
    actor_rollout_ref.rollout.agent.default_agent_loop=tool_agent

- `web_search(queries)`: the tools style's tool (crates/student/src/tools.rs), answered by
  `masksearch serve` at `MASKSEARCH_URL` with the same `<information>` block the SFT data holds.
- `masksearch_tags`: a tool parser for the tags style. It reads the model's turn with the student
  grammar (`masksearch_student.parse_turn`) and hands a `<search>` to verl as a `web_search` call
  of its queries, so both styles share one tool. An `<answer>` or an invalid turn has no call,
  which ends verl's rollout.

The tools style needs no parser of ours: a model trained on the tools export writes hermes
`<tool_call>{"name": "web_search", "arguments": {"queries": [...]}}</tool_call>`, which verl's
own `hermes` parser reads.
"""

import asyncio
import importlib.util
import json
import os
import sys

from verl.experimental.agent_loop.tool_parser import FunctionCall, ToolParser
from verl.tools.function_tool import function_tool

PARSER_NAME = "masksearch_tags"


def _sibling(name):
    """A module of this folder. verl loads this file by path under a made-up module name, with
    the folder not on sys.path, so the sibling is loaded by path too (once per process)."""
    if name not in sys.modules:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


student = _sibling("masksearch_student")


@function_tool(student.TOOL_NAME, schema=student.OPENAI_TOOL)
def web_search(queries: list[str]) -> str:
    """Searches `queries` on masksearch serve; the `<information>…</information>` block."""
    return student.observe(queries)


@ToolParser.register(PARSER_NAME)
class MaskSearchTagsParser(ToolParser):
    """The tags style: `<search>` (one query per line) becomes a `web_search` call."""

    async def extract_tool_calls(self, responses_ids, tools=None):
        loop = asyncio.get_running_loop()
        text = await loop.run_in_executor(None, self.tokenizer.decode, responses_ids)
        turn = student.parse_turn(text)
        if turn.action != "search":
            return turn.text, []
        arguments = json.dumps({"queries": turn.queries}, ensure_ascii=False)
        return turn.text, [FunctionCall(name=student.TOOL_NAME, arguments=arguments)]
