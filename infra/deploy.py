"""Deploy-time steps that follow `sam deploy`: apply the database migrations.

`python -m infra.deploy migrate --stack auralink-dev` invokes the stack's MigrateFunction (which
runs as the database owner inside the VPC) and fails loudly if the migration failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import boto3
from botocore.config import Config

# The migration function may run up to its 120 s timeout; never re-invoke it behind our back.
_INVOKE_CONFIG = Config(read_timeout=150, retries={"max_attempts": 1})


def stack_output(stack: str, key: str, *, region: str | None = None) -> str:
    cloudformation = boto3.client("cloudformation", region_name=region)
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    for output in described.get("Outputs", []):
        if output["OutputKey"] == key:
            return str(output["OutputValue"])
    raise SystemExit(f"stack {stack} has no output {key}")


def migrate(stack: str, *, region: str | None = None) -> dict[str, Any]:
    function_name = stack_output(stack, "MigrateFunctionName", region=region)
    response = boto3.client("lambda", region_name=region, config=_INVOKE_CONFIG).invoke(
        FunctionName=function_name, InvocationType="RequestResponse", Payload=b"{}"
    )
    payload: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise SystemExit(f"migration failed: {payload.get('errorType')}: {payload.get('errorMessage')}")
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["migrate"])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    result = migrate(args.stack, region=args.region)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
