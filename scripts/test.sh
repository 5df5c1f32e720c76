#!/usr/bin/env bash
# The project's one test command: installs the real tools the tests run (when missing), then runs every test.
# Used by developers and by CI (.ci/run). Tests never mock these tools; they fail if a tool is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)       # promtool check/test rules, check metrics
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)  # runtime cache tests
# amtool check-config on the routing snippets; the Alertmanager of the end-to-end alert test
{ command -v amtool && command -v prometheus-alertmanager; } >/dev/null 2>&1 || need+=(prometheus-alertmanager)
# vmalert -dryRun on the rules; VictoriaMetrics and vmalert evaluating them end to end
{ command -v vmalert && command -v victoria-metrics; } >/dev/null 2>&1 || need+=(victoria-metrics)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)                                               # runtime database tests
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Shared material (the Grafana JSON Schemas the dashboard test validates against) lives beside the checkout.
if [ ! -d ../shared/schemas/grafana ]; then
  echo "missing ../shared/schemas/grafana: the tests read the Grafana JSON Schemas from the shared/ folder beside this checkout" >&2
  exit 1
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The API docs as docs.rs builds them (every feature): no broken or private links.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked
cargo run --quiet --locked --bin slogen -- check
# `cargo install --path .` gives a working slogen outside this repository: installed into a scratch root
# (--debug, so it reuses the build of the line above rather than making a release build: about a second),
# then run in a scratch folder holding only a copy of slos/, where it must generate exactly generated/.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cargo install --quiet --locked --debug --path . --root "$scratch/root"
mkdir "$scratch/project"
cp -R slos "$scratch/project/"
(cd "$scratch/project" && "$scratch/root/bin/slogen" generate >/dev/null && "$scratch/root/bin/slogen" check)
diff -r generated "$scratch/project/generated"
cargo test --workspace --locked
# Every publishable crate packages and builds as crates.io would build it (the runtime with all its features
# too); --allow-dirty so a developer can run this before committing.
cargo publish --dry-run --locked --allow-dirty -p slogen -p slogen-runtime -p slogen-load
cargo package --locked --allow-dirty -p slogen-runtime --all-features
