"""masksearch's agent loops for verl 0.9.1: rollouts that speak the turns the student learnt.

`masksearch_tools.py` (verl's `multi_turn.function_tool_path`) loads this file in every process
that loads tools — the trainer's dataset and, before any rollout, each agent loop worker
(verl/experimental/agent_loop/agent_loop.py, `AgentLoopWorker.__init__`) — and the `register`
decorator below puts both loops in verl's agent loop registry, where
`actor_rollout_ref.rollout.agent.default_agent_loop` names one:

- `masksearch_tags` (the tags style): the conversation of `masksearch export sft --style tags`
  and of the masksearch runtime (`eval --methods agent`, turns mode). Each assistant turn is one
  generation, stopped at `</search>` or `</answer>` and cut after its first action; a search is
  answered by `POST /observation` as a USER message holding the `<information>` block; a turn with
  no action gets the corrective user message (Search-R1's) and the rollout goes on. Up to
  `multi_turn.max_assistant_turns` generations, each but the last followed by a user message (the
  scripts give max_turns + 1 and max_turns: max_turns searches, then a last turn that can only
  answer, as the runtime), each of at most `MASKSEARCH_MAX_TURN_TOKENS` tokens (500, the
  runtime's; a turn cut there is read as the runtime reads it, `finish` "length"). The prompt is
  rendered without tool schemas (the tags export has none).
  The rollout's tokens are the chat template's rendering of that conversation: what the model
  generated (response mask 1), with what the template writes around it (the user turns, the end
  of each turn, a closing tag the backend left out of the ids) with mask 0.
- `masksearch_tools` (the tools style): verl's own `ToolAgentLoop` (hermes calls, `tool`
  messages, the rollout ends on a turn without a call), which only also tells the `web_search`
  tool which passage the sample must not see (MASKSEARCH_EXCLUDE_SOURCE) and asks for at most
  `MASKSEARCH_MAX_TURN_TOKENS` a generation.

Both loops count the tokens the model generated (`masksearch_generated` among the extra fields),
which `MaskSearchDAPORewardManager` measures DAPO's overlong penalty by: verl's `dapo` manager
measures the whole response, the observations written into it included, and so would take
reward away for searching.
"""

import logging
import os
from typing import Any

from verl.experimental.agent_loop.agent_loop import AgentLoopOutput, register
from verl.experimental.agent_loop.tool_agent_loop import ToolAgentLoop
from verl.experimental.reward_loop.reward_manager.dapo import DAPORewardManager
from verl.utils.profiler import simple_timer
from verl.utils.rollout_trace import rollout_trace_op
from verl.utils.tokenizer.tokenizer import normalize_token_ids

import masksearch_student as student  # a sibling: the file that loaded this one put the folder on sys.path

logger = logging.getLogger(__file__)
logger.setLevel(os.getenv("VERL_LOGGING_LEVEL", "WARN"))

# Stands for an assistant message's content while the template's end of turn is read off.
_CONTENT = "MASKSEARCH_ASSISTANT_CONTENT"

# The extra field in which both loops count the response's generated tokens.
GENERATED = "masksearch_generated"


@register("masksearch_tools")
class MaskSearchToolsAgentLoop(ToolAgentLoop):
    """verl's tool agent loop, with the sample's excluded passage in reach of the tool."""

    async def run(self, sampling_params: dict[str, Any], **kwargs) -> AgentLoopOutput:
        student.EXCLUDE.set(tuple(student.source_exclusion(kwargs.get("extra_info"))))
        cap = student.max_turn_tokens()
        if cap:
            # Each generation at most a turn's tokens, as the runtime's (verl's servers honour
            # `max_tokens`; the loop still ends at the response length).
            sampling_params = {**sampling_params, "max_tokens": cap}
        output = await super().run(sampling_params, **kwargs)
        output.extra_fields[GENERATED] = sum(output.response_mask)
        return output


class Rollout:
    """The tokens of one rollout as they grow: the prompt, then response tokens, each generated
    (mask 1, with its log-probability) or written around the generations (mask 0)."""

    def __init__(self, prompt_ids, with_logprobs):
        self.prompt_ids = list(prompt_ids)
        self.response_ids, self.mask = [], []
        self.logprobs = [] if with_logprobs else None

    @property
    def ids(self):
        return self.prompt_ids + self.response_ids

    def generated(self, ids, logprobs):
        self.response_ids += ids
        self.mask += [1] * len(ids)
        if self.logprobs is not None:
            self.logprobs += list(logprobs) if logprobs else [0.0] * len(ids)

    def written(self, ids):
        self.response_ids += ids
        self.mask += [0] * len(ids)
        if self.logprobs is not None:
            self.logprobs += [0.0] * len(ids)


@register("masksearch_tags")
class MaskSearchTagsAgentLoop(ToolAgentLoop):
    """The tags style's rollout: assistant turns and user turns, as SFT and the runtime have them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.turn_end_ids = self._turn_end_ids()
        self.turn_cap = student.max_turn_tokens()

    @rollout_trace_op
    async def run(self, sampling_params: dict[str, Any], priority: int = 0, **kwargs) -> AgentLoopOutput:
        messages = list(kwargs["raw_prompt"])
        exclude = student.source_exclusion(kwargs.get("extra_info"))
        request_id = self._make_request_id(priority, self.rollout_config.full_determinism)
        metrics = {}
        prompt_ids = await self.ct_build_initial_tokens(messages, tools=None)
        rollout = Rollout(prompt_ids, with_logprobs=bool(sampling_params.get("logprobs")))
        params = {**sampling_params, "stop": sorted(set(sampling_params.get("stop") or []) | set(student.STOPS))}
        assistant_turns = user_turns = 0
        thought = False
        end = "length"
        while len(rollout.mask) < self.response_length:
            # What is left of the response, and at most a turn's tokens, as the runtime gives.
            budget = min(self.response_length - len(rollout.mask), self.turn_cap or self.response_length)
            with simple_timer("generate_sequences", metrics):
                output = await self.server_manager.generate(
                    request_id=request_id, prompt_ids=rollout.ids, sampling_params={**params, "max_tokens": budget}
                )
            metrics["num_preempted"] = metrics.get("num_preempted", 0) + (output.num_preempted or 0)
            assistant_turns += 1
            turn = self._keep_turn(rollout, output, budget, thought)
            thought = turn.thought
            messages.append({"role": "assistant", "content": turn.text})
            if turn.action == "answer":
                end = "answered"
                break
            if (self.max_assistant_turns and assistant_turns >= self.max_assistant_turns) or (
                self.max_user_turns and user_turns >= self.max_user_turns
            ):
                end = "max_turns"
                break
            if turn.action == "search":
                try:
                    with simple_timer("tool_calls", metrics):
                        content = await self.loop.run_in_executor(
                            None, lambda: student.observe(turn.queries, exclude=exclude)
                        )
                except student.SearchError as e:
                    # As the runtime: a search that cannot be answered ends the rollout.
                    logger.warning("masksearch: search failed, rollout ended: %s", e)
                    end = "search_failed"
                    break
            else:
                content = student.INVALID_ACTION_OBSERVATION.strip()
            previous = list(messages)
            messages.append({"role": "user", "content": content})
            user_ids = await self.loop.run_in_executor(
                None,
                lambda: self.continuous_token_builder.tokenize_context_incremental_messages(previous, messages, tools=None),
            )
            if len(rollout.mask) + len(user_ids) >= self.response_length:
                break  # the next turn would have no room, as verl's loop decides
            rollout.written(user_ids)
            user_turns += 1
        n = self.response_length
        return AgentLoopOutput(
            prompt_ids=rollout.prompt_ids,
            response_ids=rollout.response_ids[:n],
            response_mask=rollout.mask[:n],
            response_logprobs=rollout.logprobs[:n] if rollout.logprobs is not None else None,
            multi_modal_data={},
            num_turns=assistant_turns + user_turns + 1,
            metrics=metrics,
            extra_fields={"turn_scores": [], "tool_rewards": [], "masksearch_end": end, GENERATED: sum(rollout.mask[:n])},
        )

    def _keep_turn(self, rollout, output, budget, thought_before):
        """Reads one generation and adds what the conversation keeps of it to `rollout`: the
        generated tokens up to the end of the turn's first action (a token that runs past it is
        dropped and the rest of the text written), the closing tag if a stop sequence cut it off,
        then the template's end of turn — the model's own end-of-turn token when it wrote one
        right there."""
        ids = list(output.token_ids)
        logprobs = list(output.log_probs or [])
        eos = self.tokenizer.eos_token_id
        ended = bool(ids) and ids[-1] == eos
        body = ids[:-1] if ended else ids
        finish = "length" if len(ids) >= budget and not ended else "stop"
        turn = student.parse_turn(self.tokenizer.decode(body), finish=finish, thought_before=thought_before)
        kept_n, kept_text = self._generated_prefix(body, turn.text)
        rollout.generated(body[:kept_n], logprobs[:kept_n])
        rest = turn.text[len(kept_text):]
        if rest:
            rollout.written(self.tokenizer.encode(rest, add_special_tokens=False))
        end_ids = list(self.turn_end_ids)
        if ended and kept_n == len(body) and not rest and end_ids and end_ids[0] == eos:
            rollout.generated([eos], logprobs[len(body) : len(body) + 1])
            end_ids = end_ids[1:]
        rollout.written(end_ids)
        return turn

    def _generated_prefix(self, ids, kept):
        """(n, text): the most generated tokens whose text begins what the turn keeps. Usually
        all of them; after a stop sequence the last token can run past the closing tag."""
        decode = self.tokenizer.decode
        text = decode(ids)
        if kept.startswith(text):
            return len(ids), text
        fits, runs_past = 0, len(ids)
        while runs_past - fits > 1:
            n = (fits + runs_past) // 2
            if kept.startswith(decode(ids[:n])):
                fits = n
            else:
                runs_past = n
        return fits, decode(ids[:fits])

    def _turn_end_ids(self):
        """What the chat template writes after an assistant message's content (ChatML:
        `<|im_end|>` and a newline). The loop relies on the template writing an assistant message
        as the generation prompt, the content unchanged, then this; a template that does not
        (one that rewrites earlier turns' content) is refused here rather than trained on
        rollouts that differ from its rendering."""
        kwargs = dict(self.apply_chat_template_kwargs)
        probe = [{"role": "user", "content": "u"}]
        opened = self.tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True, **kwargs)
        closed = self.tokenizer.apply_chat_template(
            probe + [{"role": "assistant", "content": _CONTENT}], tokenize=False, add_generation_prompt=False, **kwargs
        )
        if not closed.startswith(opened + _CONTENT):
            raise ValueError(
                "masksearch_tags: the chat template does not write an assistant message as the "
                f"generation prompt followed by its content: {opened!r} then {closed!r}"
            )
        suffix = closed[len(opened) + len(_CONTENT) :]
        return normalize_token_ids(self.tokenizer.encode(suffix, add_special_tokens=False))


class MaskSearchDAPORewardManager(DAPORewardManager):
    """verl's `dapo` reward manager, its overlong penalty measured on the tokens the model
    generated rather than the whole response: the `<information>` blocks (tool or user turns)
    are the search engine's text, and counted in they would make every search cost reward.
    The penalty is DAPO's otherwise: none up to `max_resp_len - overlong_buffer_cfg.len`
    generated tokens, then down linearly to `-penalty_factor` at `max_resp_len`.

    verl's reward workers score a rollout from its ids, without its response mask: the count comes
    from the extra field both loops fill; a batch that has the mask (scored after the rollout) is
    counted from the mask."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # verl's own penalty off: this class adds its own.
        self.buffer, self.overlong_buffer_cfg = self.overlong_buffer_cfg, None

    async def run_single(self, data):
        result = await super().run_single(data)
        if self.buffer is not None and self.buffer.enable:
            exceed = generated_tokens(data[-1]) - (self.max_resp_len - self.buffer.len)
            penalty = min(-exceed / self.buffer.len * self.buffer.penalty_factor, 0)
            result["reward_score"] += penalty
            if self.buffer.log:
                result["reward_extra_info"].update(overlong_reward=penalty, overlong=penalty < 0)
        return result


def generated_tokens(item):
    """The tokens the model generated in one rollout, `item` a row of verl's DataProto."""
    if "response_mask" in item.batch.keys():
        return int(item.batch["response_mask"].sum())
    extra = item.non_tensor_batch.get("tool_extra_fields") or {}
    if GENERATED not in extra:
        raise ValueError(
            f"MaskSearchDAPORewardManager: the rollout has no response mask and no {GENERATED!r} "
            "extra field; it counts the rollouts of the masksearch_tags and masksearch_tools loops"
        )
    return int(extra[GENERATED])
