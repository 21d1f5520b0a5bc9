"""masksearch's search tool and agent loops for verl 0.9.1.

Give verl this file as its function tool file; loading it registers, in every process that loads
tools (the trainer's dataset and each agent loop worker, before any rollout starts), the
`web_search` tool and the two agent loops of `masksearch_agent_loop.py`:

    actor_rollout_ref.rollout.multi_turn.enable=true
    actor_rollout_ref.rollout.multi_turn.function_tool_path=integrations/verl/masksearch_tools.py
    actor_rollout_ref.rollout.agent.default_agent_loop=masksearch_tags   # masksearch_tools for the tools style
    actor_rollout_ref.rollout.multi_turn.format=hermes                   # the tools style's calls

- `web_search(queries)`: the tools style's tool (testdata/student/web_search_tool.json), answered
  by `masksearch serve`'s `/observation` at `MASKSEARCH_URL` with the `<information>` block the
  SFT data holds. The tags loop searches through the same function of masksearch_student.
- `masksearch_tags`, `masksearch_tools`: see masksearch_agent_loop.py.
"""

import os
import sys

from verl.tools.function_tool import function_tool

# verl loads this file by path under a made-up module name, without its folder on sys.path; the
# siblings are imported by their own names, which the agent loops' registry entries use.
sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import masksearch_agent_loop  # noqa: E402,F401  (registers the two agent loops)
import masksearch_student as student  # noqa: E402


@function_tool(student.TOOL_NAME, schema=student.OPENAI_TOOL)
def web_search(queries: list[str]) -> str:
    """Searches `queries` on masksearch serve; the `<information>…</information>` block. The
    passages the masksearch_tools loop set aside for its sample are not shown."""
    return student.observe(queries, exclude=student.EXCLUDE.get())
