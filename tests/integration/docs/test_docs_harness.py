"""The docs test's own rules, on small guides against a server on loopback that answers any status.

`tests/e2e/test_docs_examples.py` runs the real guides; these check that it would catch what it
promises to catch (a failing curl, a wrong status, a moved test file, an undefined variable).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.mcp_servers import LoopbackServer, canned_app
from tests.support.doc_examples import explain, run, session

FENCE = "```"


@pytest.fixture(scope="module")
def statuses() -> Iterator[LoopbackServer]:
    """`GET /status/<code>` answers that status."""
    with LoopbackServer(canned_app(), name="docs-statuses") as server:
        yield server


def play(tmp_path: Path, server: LoopbackServer, *blocks: str) -> tuple[int, str, str]:
    """Run a guide made of these ```bash blocks, written for 127.0.0.1:3000, against `server`."""
    guide = tmp_path / "guide.md"
    guide.write_text(
        "# A guide\n\n" + "\n\nSome prose.\n\n".join(f"{FENCE}bash\n{b}\n{FENCE}" for b in blocks)
    )
    built = session(guide, {"127.0.0.1:3000": server.base_url.removeprefix("http://")})
    status, output = run(built, dict(os.environ), timeout_s=60)
    return status, output, explain(built, output)


def test_a_guide_whose_commands_succeed_passes(tmp_path, statuses):
    status, output, _ = play(tmp_path, statuses, "curl -s 127.0.0.1:3000/status/200", "echo done")
    assert status == 0, output
    assert "HTTP 200" in output and output.rstrip().endswith("done")


def test_an_answer_of_400_or_more_fails_the_guide_at_its_line(tmp_path, statuses):
    status, _, explained = play(
        tmp_path, statuses, "echo first", "curl -s 127.0.0.1:3000/status/404\necho never"
    )

    assert status != 0
    assert "docs-test: HTTP 404" in explained
    assert "the failing command is at guide.md:10" in explained  # the curl's line in the guide
    assert "never" not in explained


def test_a_status_the_guide_announces_is_expected_and_checked(tmp_path, statuses):
    announced = "# → 404 not_found: nothing there\ncurl -s 127.0.0.1:3000/status/404"
    wrong = "# → 404 not_found\ncurl -s 127.0.0.1:3000/status/200"

    assert play(tmp_path, statuses, announced, "curl -s 127.0.0.1:3000/status/500")[0] != 0
    assert play(tmp_path, statuses, announced)[0] == 0
    status, _, explained = play(tmp_path, statuses, wrong)
    assert status != 0 and "HTTP 200 where the guide says 404" in explained


def test_variables_carry_from_block_to_block_and_an_undefined_one_fails(tmp_path, statuses):
    assert play(tmp_path, statuses, "CODE=200", 'curl -s "127.0.0.1:3000/status/$CODE"')[0] == 0
    status, _, explained = play(tmp_path, statuses, 'curl -s "$API/status/200"')
    assert status != 0 and "API: unbound variable" in explained


def test_a_block_that_needs_aws_is_skipped(tmp_path, statuses):
    guide = tmp_path / "guide.md"
    guide.write_text(f"{FENCE}bash\n# needs: AWS\naws sts get-caller-identity\n{FENCE}\n")

    built = session(guide, {})

    assert [block.needs for block in built.skipped] == [("AWS",)]
    assert not built.ran and "aws sts" not in built.script


def test_test_commands_must_name_tests_that_exist(tmp_path, statuses):
    exists = ".venv/bin/pytest tests/unit/test_retry.py tests/integration/mcp/limits -q"
    moved = ".venv/bin/pytest tests/unit/mcp/test_mcp_retry.py::test_jitter"

    assert play(tmp_path, statuses, exists)[0] == 0
    status, _, explained = play(tmp_path, statuses, moved)
    assert status != 0 and "tests/unit/mcp/test_mcp_retry.py::test_jitter, which does not exist" in explained


def test_make_dev_and_make_test_are_the_docs_tests_own(tmp_path, statuses):
    status, output, _ = play(tmp_path, statuses, "make dev\nmake test\nmake -s help")
    assert status == 0, output
    assert "local runtime is serving" in output and "make token SUB=alice" in output  # a real make
