"""An agent pipeline over co_mcp: start it over stdio, then search, inspect and create a data asset.

    python agent_pipeline.py [QUERY]

Without settings it runs `co-mcp --sandbox` (demo data, no account). With CODEOCEAN_DOMAIN and
CODEOCEAN_TOKEN set it talks to your Code Ocean instead, and then creates an asset only if
PIPELINE_S3_BUCKET (and optionally PIPELINE_S3_PREFIX) names an S3 location to import.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import TextContent

REAL = bool(os.environ.get("CODEOCEAN_DOMAIN") and os.environ.get("CODEOCEAN_TOKEN"))


def server() -> StdioServerParameters:
    # co-mcp from PATH, else from the Python running this script (e.g. a venv that was not activated).
    found = shutil.which("co-mcp")
    command, args = (found, []) if found else (sys.executable, ["-m", "co_mcp"])
    return StdioServerParameters(command=command, args=[*args, *([] if REAL else ["--sandbox"])], env=dict(os.environ))


class ToolFailedError(Exception):
    """A tool answered with an error; its message says what went wrong and what to do."""


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a tool, print the text the model would read, and return the structured result (ids, state)."""
    result = await client.call_tool(tool, arguments)
    text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
    if result.is_error:
        raise ToolFailedError(f"{tool} failed: {text}")
    print(f"\n-> {tool}\n{text}")
    return result.structured_content or {}


async def pipeline(query: str) -> None:
    async with Client(server(), read_timeout_seconds=180) as client:
        print(f"Connected to co-mcp ({'your Code Ocean' if REAL else 'the sandbox'}).")

        found = await call(client, "search_data_assets", {"query": query, "limit": 5})
        ids = [hit["id"] for hit in found["results"]]
        if not ids:
            return
        await call(client, "get_data_asset", {"data_asset_ids": ids[:2]})

        bucket = os.environ.get("PIPELINE_S3_BUCKET") or (None if REAL else "co-demo-public")
        if bucket is None:
            print("\nNot creating anything: set PIPELINE_S3_BUCKET to import an S3 location as a new data asset.")
            return
        prefix = os.environ.get("PIPELINE_S3_PREFIX", "pipeline/example")
        created = await call(
            client,
            "create_data_asset",
            {
                "name": f"Pipeline import of s3://{bucket}/{prefix}",
                "source": {"kind": "s3", "bucket": bucket, "prefix": prefix, "public": not REAL},
                "tags": ["co-mcp-pipeline"],
                "wait": True,  # returns once the asset is ready or failed
                "wait_timeout": 120,
            },
        )
        print(f"\nNew data asset {created['asset']['id']}: {created['asset']['state']}")


if __name__ == "__main__":
    try:
        anyio.run(pipeline, sys.argv[1] if len(sys.argv) > 1 else "rna")
    except* ToolFailedError as failed:
        sys.exit("\n".join(str(error) for error in failed.exceptions))
