"""An image's task root laid out from its Dockerfile without Docker (`infra.local.dockerfile`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infra.local.dockerfile import UnsupportedDockerfile, assemble, instructions

BASE = "FROM public.ecr.aws/lambda/python:3.13\n"


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "context"
    (context / "pkg" / "__pycache__").mkdir(parents=True)
    (context / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (context / "pkg" / "__pycache__" / "stale.pyc").write_bytes(b"")
    (context / "conf").mkdir()
    (context / "conf" / "a.yaml").write_text("a: 1\n")
    (context / "conf" / "b.yaml").write_text("b: 2\n")
    (context / "app.py").write_text("def lambda_handler(event, context):\n    return event\n")
    (context / "Dockerfile").write_text(dockerfile)
    return context


def _assemble(tmp_path: Path, dockerfile: str) -> tuple[Path, tuple[str, ...], str]:
    context = _context(tmp_path, dockerfile)
    root = assemble(
        context / "Dockerfile",
        context,
        tmp_path / "task",
        python=Path(sys.executable),
        scratch=tmp_path / "scratch",
    )
    return root.folder, root.skipped, root.handler


def test_instructions_join_continued_lines_and_drop_comments() -> None:
    text = '# a comment\nFROM x\n\nRUN a \\\n    && b\nCMD ["app.h"]\n'

    assert [(i.keyword, i.argument) for i in instructions(text)] == [
        ("FROM", "x"),
        ("RUN", "a && b"),
        ("CMD", '["app.h"]'),
    ]


def test_copies_and_runs_lay_out_the_task_root_as_the_image_holds_it(tmp_path: Path) -> None:
    folder, skipped, handler = _assemble(
        tmp_path,
        BASE
        + "COPY conf/a.yaml /tmp/a.yaml\n"
        + 'RUN pip install --target "${LAMBDA_TASK_ROOT}" -r /tmp/a.yaml\n'
        + "COPY pkg ${LAMBDA_TASK_ROOT}/pkg\n"
        + "COPY conf/*.yaml ${LAMBDA_TASK_ROOT}/pkg/conf/\n"
        + "COPY app.py ${LAMBDA_TASK_ROOT}/\n"
        + 'RUN cd "${LAMBDA_TASK_ROOT}" \\\n'
        + "    && python -c \"import pkg; open('ran', 'w').write(str(pkg.VALUE))\"\n"
        + 'CMD ["app.lambda_handler"]\n',
    )

    assert handler == "app.lambda_handler"
    assert (folder / "pkg" / "__init__.py").is_file() and not (folder / "pkg" / "__pycache__").exists()
    assert sorted(path.name for path in (folder / "pkg" / "conf").iterdir()) == ["a.yaml", "b.yaml"]
    assert (folder / "app.py").is_file() and (folder / "ran").read_text() == "1"
    # The packages are the environment's, made from the same lock: their RUN is left to it.
    assert skipped == ('pip install --target "${LAMBDA_TASK_ROOT}" -r /tmp/a.yaml',)
    assert (tmp_path / "scratch" / "tmp" / "a.yaml").is_file()


@pytest.mark.parametrize(
    ("dockerfile", "refused"),
    [
        ('FROM python:3.13\nCMD ["app.h"]\n', "FROM python:3.13"),
        (BASE + 'ENV A=1\nCMD ["app.h"]\n', "ENV is not followed here"),
        (BASE + 'COPY missing ${LAMBDA_TASK_ROOT}/\nCMD ["app.h"]\n', "nothing in the context matches"),
        (BASE + 'COPY --chown=1 app.py ${LAMBDA_TASK_ROOT}/\nCMD ["app.h"]\n', "no flags"),
        (BASE + 'COPY app.py $HOME/\nCMD ["app.h"]\n', "only ${LAMBDA_TASK_ROOT} and absolute paths"),
        (BASE + "COPY app.py ${LAMBDA_TASK_ROOT}/\n", "names no handler"),
        (BASE + 'RUN ["python", "-V"]\nCMD ["app.h"]\n', "only the shell form"),
    ],
)
def test_what_cannot_be_done_as_docker_would_is_refused_by_name(
    tmp_path: Path, dockerfile: str, refused: str
) -> None:
    with pytest.raises(UnsupportedDockerfile, match=refused.replace("$", r"\$").replace("{", r"\{")):
        _assemble(tmp_path, dockerfile)


def test_a_failing_run_fails_the_layout_with_its_output(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="nope"):
        _assemble(tmp_path, BASE + 'RUN echo nope >&2 && false\nCMD ["app.h"]\n')
