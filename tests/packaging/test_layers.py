"""The built layers: what they hold, and that the library runs from them without the venv."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from auralink.config import load_config
from auralink.db.migrate import load_migrations
from auralink.llm.registry import load_models_file
from tests.packaging.artifacts import ROOT, RUNTIME_PACKAGES, Artifacts, distributions
from tests.support.environment import SERVICE_ENVIRONMENT

pytestmark = pytest.mark.packaging

CORE = "CoreLayer"
LANGGRAPH = "LangGraphLayer"
# Settings that validate and touch nothing (the database is never connected to here).
ENVIRONMENT = SERVICE_ENVIRONMENT


def test_the_template_layers_are_built(artifacts: Artifacts) -> None:
    assert set(artifacts.layers) == {CORE, LANGGRAPH}
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


def test_the_configuration_and_the_sql_are_where_the_code_looks(artifacts: Artifacts) -> None:
    core = artifacts.layers[CORE]

    found = artifacts.run(
        artifacts.sys_path(layers=[CORE]),
        """
from auralink.config import get_mcp_config
from auralink.db.migrate import default_sql_root, load_migrations
from auralink.llm.registry import default_models_file, load_models_file
from auralink.settings import get_settings
sql = default_sql_root()
print(json.dumps({
    "config": str(get_settings().resolved_mcp_config_path()),
    "servers": sorted(get_mcp_config().servers),
    "models_file": str(default_models_file()),
    "models": len(load_models_file(default_models_file())),
    "sql": str(sql),
    "migrations": [[m.name, m.checksum] for m in load_migrations(sql / "migrations")],
    "seeds": [[m.name, m.checksum] for m in load_migrations(sql / "seeds")],
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
    assert found["models"] == len(load_models_file(configs / "llm-models.yaml"))
    assert found["sql"] == str(core / "auralink" / "db" / "sql")
    assert found["migrations"] == [[m.name, m.checksum] for m in load_migrations(sql / "migrations")]
    assert found["seeds"] == [[m.name, m.checksum] for m in load_migrations(sql / "seeds")]


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


def test_the_langgraph_layer_holds_only_what_the_core_layer_lacks(artifacts: Artifacts) -> None:
    core, langgraph = artifacts.layers[CORE], artifacts.layers[LANGGRAPH]

    assert distributions(langgraph) & distributions(core) == set()
    # Lambda unpacks every layer into the same /opt/python: no file of one may shadow the other's.
    for folder in (Path("."), Path("__pycache__")):
        names = [{path.name for path in (layer / folder).iterdir()} for layer in (core, langgraph)]
        assert names[0] & names[1] <= {"__pycache__"}
    assert {"langgraph", "langchain-core", "langgraph-checkpoint-postgres"} <= distributions(langgraph)
