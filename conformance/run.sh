#!/usr/bin/env bash
# The official MCP conformance suites and the MCP Inspector CLI against `co-mcp --sandbox`, in one command:
#
#   bash conformance/run.sh
#
# 1. Installs, if not already there, the pinned npm packages of conformance/npm/*/package-lock.json under
#    .ci/.work/node (conformance/node.sh: Node 22 from the npm registry; the suite for 2025-11-25, its pre-release
#    for 2026-07-28, Inspector v2). Only the npm registry is used.
# 2. Serves `co-mcp --sandbox --transport http --no-auth` on 127.0.0.1 twice (free ports; the suites cannot
#    send a bearer token, hence the opt-out): stateless (the default) and
#    with CO_MCP_HTTP_SESSIONS=1. Runs the 2026-07-28 suite against both, and the 2025-11-25 suite against the
#    one with sessions: its SSE scenarios need an Mcp-Session-Id, which a stateless server never assigns (the spec
#    leaves sessions optional). --suite all each time, each against its baseline (conformance/baseline-*.yml:
#    fixture-bound scenarios only).
# 3. Runs the Inspector CLI over stdio against `co-mcp --sandbox`: tools/list (--strict), a search, a tool error.
#
# Exits non-zero on any failure not in a baseline, on a stale baseline entry, or on a failed Inspector check.
# Results (checks.json per scenario, suite and server logs) stay in .ci/.work/conformance for inspection.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RESULTS=$ROOT/.ci/.work/conformance
SUITE_TIMEOUT=300     # seconds per suite run (the whole suite takes about 10 s)
INSPECTOR_TIMEOUT=120 # seconds per Inspector call (each starts co-mcp --sandbox: about 10 s)
STARTED=$SECONDS

log() { printf '\n== %s\n' "$*"; }
die() {
	printf 'conformance/run.sh: %s\n' "$*" >&2
	exit 1
}

# The server under test runs with co_mcp's defaults: no inherited configuration changes what it offers.
while IFS= read -r name; do
	unset "$name"
done < <(compgen -e | grep -E '^(CO_MCP_|CODEOCEAN_)' || true)

# co-mcp: the one on PATH (CI's venv), else the development venv.
if command -v co-mcp >/dev/null 2>&1; then
	CO_MCP=$(command -v co-mcp)
elif [[ -x $ROOT/.venv/bin/co-mcp ]]; then
	CO_MCP=$ROOT/.venv/bin/co-mcp
else
	die "co-mcp not found: pip install -e . first"
fi
PYTHON=$(dirname "$CO_MCP")/python
[[ -x $PYTHON ]] || PYTHON=$(command -v python3) || die "no python3"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/co-mcp-conformance.XXXXXX")

stop_servers() {
	local pid i
	for pid in "${SERVER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${SERVER_PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	SERVER_PIDS=()
}

cleanup() {
	local rc=$?
	stop_servers
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- install ---------------------------------------------------------------------------------------

# shellcheck source=conformance/node.sh
source "$HERE/node.sh" # node22, npm_prefix, NODE_PREFIX

log "install (pinned in conformance/npm/*/package-lock.json, under .ci/.work/node)"
node22
npm_prefix conformance "$HERE/npm/conformance"
npm_prefix conformance-alpha "$HERE/npm/conformance-alpha"
npm_prefix inspector "$HERE/npm/inspector"
CONFORMANCE=$NODE_PREFIX/conformance/node_modules/.bin/conformance
CONFORMANCE_ALPHA=$NODE_PREFIX/conformance-alpha/node_modules/.bin/conformance
INSPECTOR=$NODE_PREFIX/inspector/node_modules/.bin/mcp-inspector
echo "   node $(node --version); conformance $("$CONFORMANCE" --version), $("$CONFORMANCE_ALPHA" --version);" \
	"inspector $("$INSPECTOR" --version 2>/dev/null | tail -n 1)"

rm -rf "$RESULTS"
mkdir -p "$RESULTS"

# --- the HTTP server ------------------------------------------------------------------------------

ready() { # url: true once the server answers an initialize (a ping needs a session when the server keeps them)
	"$PYTHON" - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request

request = urllib.request.Request(
    sys.argv[1],
    data=b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"run.sh","version":"0"}}}',
    headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
)
with urllib.request.urlopen(request, timeout=2) as response:
    sys.exit(0 if response.status == 200 else 1)
PY
}

SERVER_PIDS=()

start_server() { # label [VAR=value...]: serve on a free 127.0.0.1 port; sets URL. Retried on another port if taken
	local label=$1 attempt i pid t0=$SECONDS
	shift
	for attempt in 1 2 3; do
		PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		URL=http://127.0.0.1:$PORT/mcp
		# --no-auth: the suites have no way to send a bearer token (`conformance server --help`: --url only).
		# Loopback only, for the few minutes of the run, against the sandbox's demo data.
		env CO_MCP_AUDIT_LOG="$TMP/audit-$label.jsonl" "$@" \
			"$CO_MCP" --sandbox --transport http --no-auth --host 127.0.0.1 --port "$PORT" >>"$RESULTS/server-$label.log" 2>&1 &
		pid=$!
		for ((i = 0; i < 120; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			if ready "$URL"; then
				SERVER_PIDS+=("$pid")
				echo "   $label: serving $URL (pid $pid) after $((SECONDS - t0)) s"
				return 0
			fi
			sleep 0.5
		done
		echo "   attempt $attempt: no answer on $URL" >&2
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	tail -n 30 "$RESULTS/server-$label.log" >&2 || true
	die "co-mcp --transport http did not start; see $RESULTS/server-$label.log"
}

log "co-mcp --sandbox --transport http on 127.0.0.1: stateless, and with sessions"
start_server stateless
STATELESS_URL=$URL
start_server sessions CO_MCP_HTTP_SESSIONS=1
SESSIONS_URL=$URL

# --- the suites -----------------------------------------------------------------------------------

# Prints one line per scenario (pass / baselined / FAIL), from the suite's own checks.json files; checks are
# counted once per id, at their worst. A check counts as failed when it is FAILURE or WARNING, as the suite's
# baseline comparison counts it. A pass whose
# result is co_mcp's "Unknown tool" error is marked vacuous: the suite's fixture tool is absent and the
# check accepted the error (the 0.1.16 false positive).
summarize() { # results-dir baseline-file
	"$PYTHON" - "$1" "$2" <<'PY'
import json, pathlib, re, sys

results, baseline = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
expected = set()
for line in baseline.read_text().splitlines():
    found = re.match(r"\s*-\s*([^\s#]+)", line)
    if found:
        expected.add(found.group(1))

rank = {"FAILURE": 3, "WARNING": 2, "SUCCESS": 1, "SKIPPED": 0}
totals = {"pass": 0, "vacuous": 0, "baselined": 0, "FAIL": 0}
for checks_file in sorted(results.glob("*/checks.json")):
    scenario = re.sub(r"^server-|-\d{4}-\d\d-\d\dT[\d-]+Z$", "", checks_file.parent.name)
    worst = {}
    for check in json.loads(checks_file.read_text()):
        if check.get("status") in rank and rank[check["status"]] >= rank[worst.get(check["id"], "SKIPPED")]:
            worst[check["id"]] = check["status"]
    bad = sorted(cid for cid, status in worst.items() if status in ("FAILURE", "WARNING"))
    passed = sum(status == "SUCCESS" for status in worst.values())
    skipped = sum(status == "SKIPPED" for status in worst.values())
    unexpected = [cid for cid in bad if scenario not in expected and f"{scenario}:{cid}" not in expected]
    if unexpected:
        verdict, note = "FAIL", "unexpected: " + ", ".join(unexpected)
    elif bad:
        verdict, note = "baselined", f"{len(bad)} expected"
    elif re.search(r"Unknown tool: '?test_", checks_file.read_text()):
        verdict, note = "vacuous", "fixture tool absent; the check accepted the 'Unknown tool' error"
    else:
        verdict, note = "pass", ""
    if skipped:
        note = f"{note}; {skipped} skipped" if note else f"{skipped} skipped"
    totals[verdict] += 1
    print(f"   {verdict:<9} {scenario:<48} {passed}/{len(worst)} passed{'  ' + note if note else ''}")
print(
    f"   {sum(totals.values())} scenarios: {totals['pass']} passed, {totals['vacuous']} passed vacuously, "
    f"{totals['baselined']} baselined, {totals['FAIL']} failed"
)
PY
}

FAILED=()

run_suite() { # label url conformance-binary baseline extra-args...
	local label=$1 url=$2 bin=$3 baseline=$4 rc=0
	shift 4
	log "conformance $label ($("$bin" --version), --suite all, baseline ${baseline#"$ROOT"/})"
	timeout "$SUITE_TIMEOUT" "$bin" server --url "$url" --suite all --expected-failures "$baseline" \
		-o "$RESULTS/$label" "$@" >"$RESULTS/$label.log" 2>&1 || rc=$?
	summarize "$RESULTS/$label" "$baseline" || rc=1
	# The suite's own verdict: stale baseline entries and unexpected failures.
	sed 's/\x1b\[[0-9;]*m//g' "$RESULTS/$label.log" |
		sed -n '/^\(Stale baseline\|Unexpected failures\|Baseline\)/,$s/^/   /p'
	if ((rc != 0)); then
		echo "   conformance $label: exit $rc (log: ${RESULTS#"$ROOT"/}/$label.log)" >&2
		FAILED+=("conformance $label")
	fi
}

run_suite 2025-11-25-sessions "$SESSIONS_URL" "$CONFORMANCE" "$HERE/baseline-2025-11-25.yml" --spec-version 2025-11-25
run_suite 2026-07-28 "$STATELESS_URL" "$CONFORMANCE_ALPHA" "$HERE/baseline-2026-07-28.yml" --spec-version 2026-07-28
run_suite 2026-07-28-sessions "$SESSIONS_URL" "$CONFORMANCE_ALPHA" "$HERE/baseline-2026-07-28.yml" \
	--spec-version 2026-07-28

stop_servers
for server_log in "$RESULTS"/server-*.log; do
	if grep -q 'Traceback' "$server_log"; then
		echo "   the server logged a traceback while the suites ran (see ${server_log#"$ROOT"/}):" >&2
		grep -m 5 -A 0 '^[A-Za-z.]*\(Error\|Exception\):' "$server_log" | sed 's/^/     /' >&2 || true
		FAILED+=("server traceback")
	fi
done

# --- the Inspector CLI over stdio -------------------------------------------------------------------

# Each call spawns `co-mcp --sandbox` over stdio. The Inspector needs a writable HOME (its catalog file).
inspector() { # name method-args...: stdout to $TMP/name.json, stderr to $TMP/name.err; returns the exit code
	local name=$1 rc=0
	shift
	mkdir -p "$TMP/home"
	HOME=$TMP/home timeout "$INSPECTOR_TIMEOUT" "$INSPECTOR" --cli -e "CO_MCP_AUDIT_LOG=$TMP/audit-stdio.jsonl" \
		"$CO_MCP" --sandbox "$@" >"$TMP/$name.json" 2>"$TMP/$name.err" || rc=$?
	cp "$TMP/$name.json" "$TMP/$name.err" "$RESULTS/" 2>/dev/null || true
	return "$rc"
}

inspector_check() { # description name expected-exit python-assertions (on `result`, the parsed stdout)
	local description=$1 name=$2 want=$3 code=$4 rc=0
	shift 4
	inspector "$name" "$@" || rc=$?
	if ((rc == want)) && "$PYTHON" - "$TMP/$name.json" "$code" <<'PY'; then
import json, sys

result = json.loads(open(sys.argv[1]).read())
exec(sys.argv[2])
PY
		printf '   pass      %s\n' "$description"
	else
		printf '   FAIL      %s (exit %s, wanted %s)\n' "$description" "$rc" "$want" >&2
		head -c 2000 "$TMP/$name.err" | sed 's/^/     /' >&2
		FAILED+=("inspector: $description")
	fi
}

log "Inspector CLI ($("$INSPECTOR" --version 2>/dev/null | tail -n 1)) over stdio: co-mcp --sandbox"
inspector_check "tools/list --strict: the tools, no schema portability error" \
	tools-list 0 '
names = [tool["name"] for tool in result["tools"]]
assert {"search_data_assets", "get_data_asset", "delete_data_asset"} <= set(names), names' \
	--method tools/list --strict
sed 's/^/             /' "$TMP/tools-list.err" # schema portability findings (warnings do not fail)
inspector_check "tools/call search_data_assets query=rna: data assets found" \
	search 0 '
assert result["isError"] is False, result
text = result["content"][0]["text"]
assert "data asset" in text and "rna" in text.lower(), text[:500]
assert result["structuredContent"], result' \
	--method tools/call --tool-name search_data_assets --tool-arg query=rna
# The real error path that 0.1.16's tools-call-error means to test (its check passes on an unknown tool):
# a well-formed call Code Ocean refuses is an isError result naming the id (the Inspector exits 5 on isError).
inspector_check "tools/call get_data_asset_permissions of a missing id: isError naming the id" \
	tool-error 5 '
assert result["isError"] is True, result
assert "00000000-0000-4000-8000-000000000000" in result["content"][0]["text"], result' \
	--method tools/call --tool-name get_data_asset_permissions \
	--tool-arg data_asset_id=00000000-0000-4000-8000-000000000000

# --- verdict --------------------------------------------------------------------------------------

log "conformance/run.sh took $((SECONDS - STARTED)) s"
if ((${#FAILED[@]})); then
	printf '   failed: %s\n' "${FAILED[@]}" >&2
	exit 1
fi
echo "   all conformance and Inspector checks passed (baselined scenarios listed above)"
