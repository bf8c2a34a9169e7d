"""The built layers: what they hold, and that the library runs from them without the venv."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from auralink.config import load_config
from auralink.db.migrate import load_migrations
from auralink.llm.models_file import load_models
from infra.template import FunctionSpec, functions, load_template
from tests.packaging.artifacts import (
    ROOT,
    RUNTIME_PACKAGES,
    SETUP_TIMEOUT_S,
    Artifacts,
    distributions,
    unzipped_size,
)
from tests.support.environment import SERVICE_ENVIRONMENT
from tests.support.imports import FRAMEWORK_LAYERS, library_modules_importing

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(SETUP_TIMEOUT_S)]

CORE = "CoreLayer"
LANGGRAPH = "LangGraphLayer"
AUTOGEN = "AutoGenLayer"
PREFECT = "PrefectLayer"
FUNCTIONS = functions(load_template(ROOT / "template.yaml"))
# Lambda's limit on a function's code and layers, unzipped: "Unzipped size must be smaller than
# 262144000 bytes" (250 MiB).
UNZIPPED_LIMIT = 262_144_000
# Settings that validate and touch nothing (the database is never connected to here).
ENVIRONMENT = SERVICE_ENVIRONMENT
# The function that carries the framework layers; a framework layer leaves out what the layers
# before it in this function's list ship (the Prefect layer relies on the LangGraph layer's
# websockets, orjson, packaging...).
RUN_STEP = next(spec for spec in FUNCTIONS if spec.logical_id == "RunStepFunction")


def test_the_template_layers_are_built(artifacts: Artifacts) -> None:
    assert set(artifacts.layers) == {CORE, LANGGRAPH, AUTOGEN, PREFECT}
    for folder in artifacts.layers.values():
        assert folder.name == "python"  # Lambda adds /opt/python to sys.path
        assert distributions(folder)
        # Console scripts name the build machine's interpreter: useless in a layer.
        assert not (folder / "bin").exists()


def test_the_library_runs_from_the_core_layer_in_a_clean_interpreter(artifacts: Artifacts) -> None:
    core = artifacts.layers[CORE]

    found = artifacts.run(
        artifacts.sys_path(layers=[CORE]),
        """
import auralink, boto3, psycopg
import auralink.db.connection, auralink.http, auralink.mcp.gateway
from psycopg import pq
print(json.dumps({
    "auralink": auralink.__file__, "boto3": boto3.__file__, "psycopg": pq.__impl__,
    "paths": [path for path in sys.path if "site-packages" in path],
}))
""",
        env=ENVIRONMENT,
    )

    assert Path(found["auralink"]).is_relative_to(core)
    assert Path(found["boto3"]).is_relative_to(artifacts.runtime)
    assert found["psycopg"] == "binary"  # the wheel of the build's platform, not the pure-Python fallback
    assert found["paths"] == []  # neither the venv's nor the interpreter's own packages


def test_an_invocation_without_metrics_of_its_own_leaves_no_warning_in_the_log(artifacts: Artifacts) -> None:
    # The MCP functions' metrics are documents of their own, and many routes emit none: Powertools'
    # warning that the function's set is empty would be a line in every container's log.
    found = artifacts.run(
        artifacts.sys_path(layers=[CORE]),
        """
import warnings
from auralink.observability import metrics
@metrics.log_metrics
def handler(event, context):
    return {}
with warnings.catch_warnings(record=True) as caught:
    handler({}, None)
    handler({}, None)
print(json.dumps([str(warning.message) for warning in caught]))
""",
        env=ENVIRONMENT,
    )

    assert found == []


def test_the_configuration_and_the_sql_are_where_the_code_looks(artifacts: Artifacts) -> None:
    core = artifacts.layers[CORE]

    found = artifacts.run(
        artifacts.sys_path(layers=[CORE]),
        """
from auralink.config import get_mcp_config
from auralink.db.migrate import default_sql_root, load_migrations
from auralink.llm.models_file import default_models_file, default_prices_file, load_models
from auralink.settings import get_settings
sql = default_sql_root()
print(json.dumps({
    "config": str(get_settings().resolved_mcp_config_path()),
    "servers": sorted(get_mcp_config().servers),
    "models_file": str(default_models_file()),
    "prices_file": str(default_prices_file()),
    "models": len(load_models()),
    "sql": str(sql),
    "migrations": [[m.name, m.checksum] for m in load_migrations(sql / "migrations")],
    "seeds": [[m.name, m.checksum] for m in load_migrations(sql / "seeds")],
    "yaml_parser_loaded": "yaml" in sys.modules,
}))
""",
        env=ENVIRONMENT,
    )

    configs = ROOT / "shared" / "configs"
    sql = ROOT / "infra" / "db"
    assert found["config"] == str(core / "auralink" / "config" / "mcp-config.yaml")
    assert found["servers"] == sorted(
        load_config(configs / "mcp-config.yaml", environment="development", environ=ENVIRONMENT).servers
    )
    assert found["models_file"] == str(core / "auralink" / "config" / "llm-models.yaml")
    assert found["prices_file"] == str(core / "auralink" / "config" / "llm-model-prices.yaml")
    assert found["models"] == len(load_models(configs / "llm-models.yaml", configs / "llm-model-prices.yaml"))
    assert found["sql"] == str(core / "auralink" / "db" / "sql")
    assert found["migrations"] == [[m.name, m.checksum] for m in load_migrations(sql / "migrations")]
    assert found["seeds"] == [[m.name, m.checksum] for m in load_migrations(sql / "seeds")]
    # The build parsed the shipped YAML files: a function reads their documents without a parser.
    assert found["yaml_parser_loaded"] is False


def test_every_module_is_compiled_ahead_of_time_for_the_layer_python(artifacts: Artifacts) -> None:
    tag = sys.implementation.cache_tag
    for folder in artifacts.layers.values():
        compiled = {path: Path(importlib.util.cache_from_source(str(path))) for path in folder.rglob("*.py")}
        assert compiled
        assert [path for path, pyc in compiled.items() if not pyc.is_file()] == []
        # Lambda's code is read-only: the bytecode is used as it is, never checked against the source
        # (the flags of the header: hash-based, unchecked).
        assert [path for path, pyc in compiled.items() if pyc.read_bytes()[4:8] != b"\x01\0\0\0"] == []
        # Nothing compiled by another Python (a copied __pycache__ of the source tree).
        assert {path.name.split(".")[-2] for path in folder.rglob("*.pyc")} == {tag}


def test_the_runtime_packages_are_left_to_lambda(artifacts: Artifacts) -> None:
    provided = {package.lower() for package in (*RUNTIME_PACKAGES, "botocore", "s3transfer")}
    for folder in artifacts.layers.values():
        assert distributions(folder) & provided == set()
        assert not (folder / "boto3").exists() and not (folder / "botocore").exists()


@pytest.mark.parametrize(
    "spec", [spec for spec in FUNCTIONS if len(spec.layers) > 1], ids=lambda spec: spec.logical_id
)
def test_the_layers_of_a_function_share_no_package(artifacts: Artifacts, spec: FunctionSpec) -> None:
    # Lambda unpacks every layer of a function into the same /opt/python: a file of one would
    # shadow another's, and a package in two would be shipped twice.
    for first, second in itertools.combinations(spec.layers, 2):
        one, other = artifacts.layers[first], artifacts.layers[second]
        assert distributions(one) & distributions(other) == set(), (first, second)
        for folder in (Path("."), Path("__pycache__")):
            names = [{path.name for path in (layer / folder).iterdir()} for layer in (one, other)]
            assert names[0] & names[1] <= {"__pycache__"}, (first, second)


@pytest.mark.parametrize(
    ("layer_id", "expected"),
    [
        (LANGGRAPH, {"langgraph", "langchain-core", "langgraph-checkpoint-postgres"}),
        (AUTOGEN, {"autogen-agentchat", "autogen-core"}),
        (PREFECT, {"prefect-client"}),
    ],
    ids=[LANGGRAPH, AUTOGEN, PREFECT],
)
def test_a_framework_layer_holds_its_framework(
    artifacts: Artifacts, layer_id: str, expected: set[str]
) -> None:
    assert expected <= distributions(artifacts.layers[layer_id])


@pytest.mark.parametrize(
    ("layer_id", "modules"),
    [
        (LANGGRAPH, ("langgraph.graph", "langgraph.checkpoint.postgres", "langchain_core.messages")),
        (AUTOGEN, ("autogen_agentchat.teams", "autogen_agentchat.agents", "autogen_core.models")),
        (PREFECT, ("prefect", "prefect.flows", "prefect.tasks", "prefect.client.orchestration")),
    ],
    ids=[LANGGRAPH, AUTOGEN, PREFECT],
)
def test_a_framework_imports_from_its_layer_beside_the_layers_before_it(
    artifacts: Artifacts, layer_id: str, modules: tuple[str, ...]
) -> None:
    layers = RUN_STEP.layers[: RUN_STEP.layers.index(layer_id) + 1]

    found = _imported_from(artifacts, layers, modules)

    assert set(found) == set(modules)
    assert [
        name for name, path in found.items() if not Path(path).is_relative_to(artifacts.layers[layer_id])
    ] == []


def test_prefect_from_its_layer_is_the_client_without_the_server(
    artifacts: Artifacts, tmp_path: Path
) -> None:
    # The layer holds Prefect's client distribution: the server's database and migrations (about
    # 140 MB installed with their dependencies) stay out of Lambda. Its import writes PREFECT_HOME,
    # which the template points under /tmp, the only writable folder on Lambda.
    found = artifacts.run(
        artifacts.sys_path(layers=RUN_STEP.layers),
        """
import importlib.util, os, prefect
print(json.dumps({
    "version": prefect.__version__,
    "server": importlib.util.find_spec("prefect.server.database") is not None,
    "sqlalchemy": importlib.util.find_spec("sqlalchemy") is not None,
    "home": os.path.isdir(os.environ["PREFECT_HOME"]),
}))
""",
        env={**ENVIRONMENT, "PREFECT_HOME": str(tmp_path / "prefect"), "DO_NOT_TRACK": "1"},
    )

    assert found["version"].startswith("3.9.")
    assert found["server"] is False and found["sqlalchemy"] is False
    assert found["home"] is True
    assert distributions(artifacts.layers[PREFECT]) & {"prefect", "sqlalchemy", "alembic"} == set()


@pytest.mark.parametrize(
    "spec",
    [spec for spec in FUNCTIONS if set(spec.layers) & set(FRAMEWORK_LAYERS)],
    ids=lambda spec: spec.logical_id,
)
def test_the_library_code_of_each_framework_imports_from_the_function_layers(
    artifacts: Artifacts, spec: FunctionSpec
) -> None:
    # The library's framework code (the executors, the model client factories) lives in the core
    # layer; what it imports must come from the layers the template gives the function.
    modules = [
        module
        for layer_id in spec.layers
        for module in library_modules_importing(FRAMEWORK_LAYERS.get(layer_id, ()))
    ]
    assert modules

    found = _imported_from(artifacts, spec.layers, modules)

    assert set(found) == set(modules)
    assert [
        name for name, path in found.items() if not Path(path).is_relative_to(artifacts.layers[CORE])
    ] == []


# An image function has neither layers nor this limit (an image may weigh 10 GB).
@pytest.mark.parametrize(
    "spec", [spec for spec in FUNCTIONS if spec.image is None], ids=lambda spec: spec.logical_id
)
def test_a_function_and_its_layers_fit_in_lambda_unzipped(artifacts: Artifacts, spec: FunctionSpec) -> None:
    # Built for this machine rather than arm64: the wheels differ little in size (docs/benchmarks.md).
    sizes = {layer_id: unzipped_size(artifacts.layers[layer_id]) for layer_id in spec.layers}

    assert sum(sizes.values()) + unzipped_size(ROOT / spec.code_uri) < UNZIPPED_LIMIT, sizes


def _imported_from(artifacts: Artifacts, layers: Sequence[str], modules: Sequence[str]) -> dict[str, Any]:
    """Each of `modules` imported in a clean interpreter with only `layers`: the file it came from."""
    return dict(
        artifacts.run(
            artifacts.sys_path(layers=layers),
            f"""
import importlib
print(json.dumps({{name: importlib.import_module(name).__file__ for name in {list(modules)!r}}}))
""",
            # Prefect writes its home at import (/tmp on Lambda); its analytics stay off.
            env={**ENVIRONMENT, "PREFECT_HOME": str(artifacts.runtime.parent / "home"), "DO_NOT_TRACK": "1"},
        )
    )
