#!/usr/bin/env bash
# Register co_mcp with Claude Code; run once. `claude mcp list` shows the result, `/mcp` in a session the tools.
set -euo pipefail

# The sandbox: demo data, no account needed.
claude mcp add codeocean-sandbox -- co-mcp --sandbox

# Your Code Ocean deployment, in every project (--scope user). Export the two variables first; Claude Code
# keeps them in its own config (~/.claude.json), not in your project.
# The server name comes right after `add`: -e takes several values and would swallow a name that follows it.
claude mcp add codeocean --scope user \
  -e CODEOCEAN_DOMAIN="${CODEOCEAN_DOMAIN:?export CODEOCEAN_DOMAIN=https://codeocean.example.com first}" \
  -e CODEOCEAN_TOKEN="${CODEOCEAN_TOKEN:?export CODEOCEAN_TOKEN=<your access token> first}" \
  -- co-mcp

# Without co-mcp installed: `uvx --from /path/to/co_mcp-0.1.0-py3-none-any.whl co-mcp` in place of `co-mcp`.
# A team deployment over HTTP (http/ in this folder) instead:
#   claude mcp add codeocean-team --transport http https://mcp.example.org/mcp \
#     --header "Authorization: Bearer $CO_MCP_HTTP_TOKEN"
