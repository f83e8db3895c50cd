#!/usr/bin/env bash
# The real OpenID provider of the team-mode tests: the pinned Node 22 and oidc-provider (tests/oidc/package.json,
# package-lock.json), under .ci/.work/node, from the npm registry only. tests/oidc.py runs tests/oidc/provider.mjs
# with them. .ci/run calls this before pytest; locally:
#
#   bash tests/oidc/install.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=conformance/node.sh
source "$HERE/../../conformance/node.sh"
node22
npm_prefix oidc-provider "$HERE"
