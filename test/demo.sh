#!/usr/bin/env bash
# make demo: the whole story on a fresh machine, in under a minute. A pool with
# data, damage injected, a verify-only scrub (exit 4), a repair (exit 1), a
# clean scrub (exit 0), status, the metrics an operator would scrape, and
# the status page's address.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/bin:$PATH"
demo=$(mktemp -d /tmp/dynamicfs-demo.XXXXXX)
pool="$demo/pool"
trap 'rm -rf "$demo"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; }
expect() { # expect CODE CMD...: run, show, and insist on the exit code
  local want=$1; shift
  set +e; "$@"; local got=$?; set -e
  echo "(exit $got)" >&2
  [[ $got == "$want" ]] || { echo "demo: expected exit $want from: $*" >&2; exit 1; }
}

step "Create a pool of 6 disks, rs:4+2 by default" dfs-pool create --pool "$pool" --disks 6 --redundancy rs:4+2 --extent-size 1M
dfs-pool create --pool "$pool" --disks 6 --redundancy rs:4+2 --extent-size 1M

head -c $((5 * 1024 * 1024 + 12345)) /dev/urandom > "$demo/photos.tar"
head -c $((3 * 1024 * 1024)) /dev/urandom > "$demo/db.dump"
step "Store two objects, one under its own scheme" dfs-pool put ... --redundancy mirror:3
dfs-pool put "$demo/photos.tar" photos.tar --pool "$pool"
dfs-pool put "$demo/db.dump" db.dump --pool "$pool" --redundancy mirror:3
dynamicfs status --pool "$pool"

step "Damage it: flip a payload bit, truncate a shard, delete a shard, damage a manifest copy" dfs-inject ...
dfs-inject corrupt --pool "$pool" --object photos.tar --extent-index 0 --shard 1 --where payload --seed 7
dfs-inject truncate --pool "$pool" --object photos.tar --extent-index 2 --shard 4 --half
dfs-inject delete --pool "$pool" --object db.dump --extent-index 1 --shard 0
dfs-inject damage-manifest --pool "$pool" --object photos.tar --disk 3

step "Verify only: finds everything, changes nothing" dynamicfs scrub --pool "$pool"
expect 4 dynamicfs scrub --pool "$pool"

step "Verify and repair" dynamicfs scrub --pool "$pool" --repair
expect 1 dynamicfs scrub --pool "$pool" --repair

step "Scrub again: clean" dynamicfs scrub --pool "$pool" --json
expect 0 dynamicfs scrub --pool "$pool" --json >"$demo/clean.json"
node -e 'const r=require(process.argv[1]); console.log(`schema ${r.schema}: ${r.outcome}, ${r.extents.healthy} healthy extents, ${r.bytesRead} bytes read`)' "$demo/clean.json"

step "Damaged files were kept on their own disks, not deleted" dfs-pool quarantine list --pool "$pool"
dfs-pool quarantine list --pool "$pool"

step "Objects read back bit-identical" dfs-pool get photos.tar OUT
dfs-pool get photos.tar "$demo/photos.out" --pool "$pool"
cmp "$demo/photos.tar" "$demo/photos.out" && echo "photos.tar: identical"
dfs-pool get db.dump --pool "$pool" | cmp - "$demo/db.dump" && echo "db.dump: identical"

step "Status" dynamicfs status --pool "$pool"
dynamicfs status --pool "$pool"

if [[ -f dist/src/cli/dfs-metrics.js ]]; then
  step "Metrics, as node_exporter's textfile collector would read them" dfs-metrics --pool "$pool" --textfile-dir DIR --once
  dfs-metrics --pool "$pool" --textfile-dir "$demo" --once
  grep -E '^dynamicfs_(scrubs_completed|scrub_issues_found|scrub_repairs_(attempted|successful)|extents_(healthy|degraded|unrecoverable))\{' "$demo"/*.prom

  step "The status page, for a browser" dfs-metrics --pool "$pool" --port 0
  dfs-metrics --pool "$pool" --port 0 2>"$demo/metrics.log" &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$demo"' EXIT
  url=""
  for _ in $(seq 100); do
    url=$(sed -n 's|.*status page \(http://[^ ]*/\)$|\1|p' "$demo/metrics.log")
    [[ -n $url ]] && break
    sleep 0.1
  done
  [[ -n $url ]] || { cat "$demo/metrics.log" >&2; echo "demo: dfs-metrics did not start" >&2; exit 1; }
  node -e 'fetch(process.argv[1]).then(async (r) => console.log(`GET / -> ${r.status} ${r.headers.get("content-type")}: ${/<title>(.*?)<\/title>/.exec(await r.text())[1]}`))' "$url"
  echo "Status page: $url  (beside it: ${url}metrics and ${url}health)"
  # Someone at a terminal gets the time to open it; a test run goes on.
  if [[ -t 0 ]]; then read -rp "Open it in a browser; press Enter to end the demo. " _; fi
fi
printf '\n\033[1mdemo finished\033[0m\n'
