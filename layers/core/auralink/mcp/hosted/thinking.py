"""The hosted Sequential Thinking MCP server: the reference server's `sequentialthinking` tool.

Same tool name, parameters, description, schemas and answer as
``@modelcontextprotocol/server-sequential-thinking`` (2026.8.31). The reference keeps its thought
history in process memory; Lambda containers share none, so each user's history is kept in
Postgres and bounded (see `thinking_repository`). Thoughts are never logged: they are the
caller's data.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp_types import CallToolResult
from pydantic import BeforeValidator, Field

from auralink.errors import ValidationFailed
from auralink.mcp.hosted import thinking_repository as repository
from auralink.mcp.hosted.app import current_caller
from auralink.mcp.hosted.thinking_repository import Thought
from auralink.mcp.hosted.tools import (
    Schema,
    answer,
    array,
    hints,
    json_text,
    record,
    reference_tool,
    root,
    string,
    text_result,
)

SERVER_NAME = "sequential-thinking-server"
SERVER_VERSION = "2026.8.31"
TOOL_NAME = "sequentialthinking"

MAX_THOUGHT_CHARS = 20_000
MAX_BRANCH_ID_CHARS = 200
# Numbers are JavaScript numbers in the reference: integers up to 2^53 - 1.
MAX_SAFE_INTEGER = 9_007_199_254_740_991

DESCRIPTION = """\
A detailed tool for dynamic and reflective problem-solving through thoughts.
This tool helps analyze problems through a flexible thinking process that can adapt and evolve.
Each thought can build on, question, or revise previous insights as understanding deepens.

When to use this tool:
- Breaking down complex problems into steps
- Planning and design with room for revision
- Analysis that might need course correction
- Problems where the full scope might not be clear initially
- Problems that require a multi-step solution
- Tasks that need to maintain context over multiple steps
- Situations where irrelevant information needs to be filtered out

Key features:
- You can adjust total_thoughts up or down as you progress
- You can question or revise previous thoughts
- You can add more thoughts even after reaching what seemed like the end
- You can express uncertainty and explore alternative approaches
- Not every thought needs to build linearly - you can branch or backtrack
- Generates a solution hypothesis
- Verifies the hypothesis based on the Chain of Thought steps
- Repeats the process until satisfied
- Provides a correct answer

Parameters explained:
- thought: Your current thinking step, which can include:
  * Regular analytical steps
  * Revisions of previous thoughts
  * Questions about previous decisions
  * Realizations about needing more analysis
  * Changes in approach
  * Hypothesis generation
  * Hypothesis verification
- nextThoughtNeeded: True if you need more thinking, even if at what seemed like the end
- thoughtNumber: Current number in sequence (can go beyond initial total if needed)
- totalThoughts: Current estimate of thoughts needed (can be adjusted up/down)
- isRevision: A boolean indicating if this thought revises previous thinking
- revisesThought: If is_revision is true, which thought number is being reconsidered
- branchFromThought: If branching, which thought number is the branching point
- branchId: Identifier for the current branch (if any)
- needsMoreThoughts: If reaching end but realizing more thoughts needed

You should:
1. Start with an initial estimate of needed thoughts, but be ready to adjust
2. Feel free to question or revise previous thoughts
3. Don't hesitate to add more thoughts if needed, even at the "end"
4. Express uncertainty when present
5. Mark thoughts that revise previous thinking or branch into new paths
6. Ignore information that is irrelevant to the current step
7. Generate a solution hypothesis when appropriate
8. Verify the hypothesis based on the Chain of Thought steps
9. Repeat the process until satisfied with the solution
10. Provide a single, ideally correct answer as the final output
11. Only set nextThoughtNeeded to false when truly done and a satisfactory answer is reached"""


def _boolean(value: object) -> object:
    # The reference accepts a boolean or the strings "true"/"false" in any case, nothing else.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f'Expected boolean or "true"/"false" string, received "{value}"')


FlexibleBoolean = Annotated[bool, BeforeValidator(_boolean)]
Count = Annotated[int, Field(ge=1, le=MAX_SAFE_INTEGER)]


def _integer(description: str) -> Schema:
    return {"type": "integer", "minimum": 1, "maximum": MAX_SAFE_INTEGER, "description": description}


def _flexible_boolean(description: str) -> Schema:
    return {"description": description, "type": ["boolean", "string"]}


_INPUT_SCHEMA = root(
    record(
        {
            "thought": string("Your current thinking step"),
            "nextThoughtNeeded": _flexible_boolean("Whether another thought step is needed"),
            "thoughtNumber": _integer("Current thought number (numeric value, e.g., 1, 2, 3)"),
            "totalThoughts": _integer("Estimated total thoughts needed (numeric value, e.g., 5, 10)"),
            "isRevision": _flexible_boolean("Whether this revises previous thinking"),
            "revisesThought": _integer("Which thought is being reconsidered"),
            "branchFromThought": _integer("Branching point thought number"),
            "branchId": string("Branch identifier"),
            "needsMoreThoughts": _flexible_boolean("If more thoughts are needed"),
        },
        required=["thought", "nextThoughtNeeded", "thoughtNumber", "totalThoughts"],
    )
)
_NUMBER = {"type": "number"}
_OUTPUT_SCHEMA = root(
    record(
        {
            "thoughtNumber": _NUMBER,
            "totalThoughts": _NUMBER,
            "nextThoughtNeeded": {"type": "boolean"},
            "branches": array(string()),
            "thoughtHistoryLength": _NUMBER,
        },
        closed=True,
    )
)


def _failure_text(message: str) -> str:
    # The reference reports a failed thought as JSON, not as bare text.
    return json_text({"error": message, "status": "failed"})


def _check(thought: str, branch_id: str | None) -> None:
    if len(thought) > MAX_THOUGHT_CHARS:
        raise ValidationFailed(
            f"thought is longer than {MAX_THOUGHT_CHARS} characters", code="value_too_long"
        )
    if branch_id is not None and len(branch_id) > MAX_BRANCH_ID_CHARS:
        raise ValidationFailed(
            f"branchId is longer than {MAX_BRANCH_ID_CHARS} characters", code="value_too_long"
        )


# The parameter names are the reference's.
def sequentialthinking(
    *,
    thought: str,
    nextThoughtNeeded: FlexibleBoolean,
    thoughtNumber: Count,
    totalThoughts: Count,
    isRevision: FlexibleBoolean | None = None,
    revisesThought: Count | None = None,
    branchFromThought: Count | None = None,
    branchId: str | None = None,
    needsMoreThoughts: FlexibleBoolean | None = None,
) -> CallToolResult:
    def work() -> CallToolResult:
        _check(thought, branchId)
        recorded = Thought(
            thought=thought,
            thought_number=thoughtNumber,
            # A thought beyond the estimate raises the estimate, as the reference does.
            total_thoughts=max(totalThoughts, thoughtNumber),
            next_thought_needed=nextThoughtNeeded,
            is_revision=isRevision,
            revises_thought=revisesThought,
            branch_from_thought=branchFromThought,
            branch_id=branchId,
            needs_more_thoughts=needsMoreThoughts,
        )
        history = repository.record_thought(current_caller().sub, recorded)
        summary = {
            "thoughtNumber": recorded.thought_number,
            "totalThoughts": recorded.total_thoughts,
            "nextThoughtNeeded": recorded.next_thought_needed,
            "branches": history.branches,
            "thoughtHistoryLength": history.length,
        }
        return text_result(json_text(summary), summary)

    return answer(TOOL_NAME, work, error_text=_failure_text)


server: MCPServer = MCPServer(
    SERVER_NAME,
    version=SERVER_VERSION,
    tools=[
        reference_tool(
            sequentialthinking,
            name=TOOL_NAME,
            title="Sequential Thinking",
            description=DESCRIPTION,
            input_schema=_INPUT_SCHEMA,
            output_schema=_OUTPUT_SCHEMA,
            annotations=hints(read_only=True, destructive=False, idempotent=True),
        )
    ],
    log_level="WARNING",
)
