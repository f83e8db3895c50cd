"""The floor for the concurrency figure: a bare MCPServer whose one tool GETs the asset from Code Ocean with a
plain httpx2 client and returns the body, served the way co_mcp serves (stateless streamable HTTP, JSON
responses, uvicorn). CODEOCEAN_DOMAIN and CODEOCEAN_TOKEN as for co-mcp.

    python bench/floor_server.py PORT

Whatever 32 concurrent calls to it cost beyond one call is the SDK's, httpx2's, the load generator's and the
machine's, not co_mcp's: the same role as the ``import mcp.server.mcpserver`` floor for cold start.
"""

from __future__ import annotations

import base64
import logging
import os
import sys

import httpx2
import uvicorn
from mcp.server.mcpserver import MCPServer


def main() -> None:
    # As co-mcp does: configured first, so the SDK's per-request INFO lines are not written.
    logging.basicConfig(level=logging.WARNING)
    server = MCPServer("floor")
    basic = base64.b64encode(f"{os.environ['CODEOCEAN_TOKEN']}:".encode()).decode()
    http = httpx2.AsyncClient(
        base_url=f"{os.environ['CODEOCEAN_DOMAIN']}/api/v1/",
        headers={"Authorization": f"Basic {basic}"},
        limits=httpx2.Limits(max_connections=32, max_keepalive_connections=32),
    )

    @server.tool()
    async def get_data_asset(data_asset_ids: list[str]) -> str:
        """The asset's JSON, as Code Ocean sent it."""
        response = await http.get(f"data_assets/{data_asset_ids[0]}")
        response.raise_for_status()
        return response.text

    app = server.streamable_http_app(stateless_http=True, json_response=True)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
