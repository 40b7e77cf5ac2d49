# DynamicFS scrub toolkit — build, test and install.
#
#   make deps       system packages (as root) and node_modules
#   make            compile TypeScript and stage production node_modules
#   make check      deps + build + every test (TESTS=regex for a subset)
#   make demo       deps + build + test/demo.sh
#   make bench      deps + build + dist/bench/run.js
#   make torture    deps + build + the torture tests with DFS_TORTURE=100
#   make install    PREFIX=/usr/local DESTDIR= (see "Installation" below)
#   make uninstall  removes exactly what the last install wrote (its manifest)
#   make clean      removes dist/ and build/ (stamps, staging)

# One shell per recipe, strict: multi-line recipes read as scripts and stop
# at the first failing command instead of carrying on.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all

# ---------------------------------------------------------------------------
# Configuration (GNU conventions; override on the command line)

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib/dynamicfs
MANDIR  ?= $(PREFIX)/share/man
# systemd searches /usr/local/lib/systemd/system as well as /usr/lib/...
UNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR ?=

# The executables, each src/cli/<name>.ts. Only those whose source exists
# are installed, so the build never depends on one that is not written yet.
EXECUTABLES := dfs-pool dfs-scrub dfs-scrubd dfs-scrub-schedule dfs-metrics dfs-inject dynamicfs
PRESENT_EXECUTABLES = $(foreach n,$(EXECUTABLES),$(if $(wildcard src/cli/$(n).ts),$(n)))

# Debian packages the toolkit and its tests use. libsystemd-dev must be there
# before `npm ci`: sd-notify compiles against it. prometheus provides promtool.
SYS_PKGS := libsystemd-dev socat mandoc prometheus prometheus-node-exporter b3sum fio xfsprogs btrfs-progs e2fsprogs util-linux time

# Test runner knobs, passed through the environment to test/run-tests.mjs.
TESTS ?=
DFS_TORTURE ?= 100
TORTURE_TIMEOUT ?= 1800

# Stamps live inside what they vouch for, so deleting node_modules or the
# staging directory by hand also forgets the stamp.
BUILD        := build
NPM_STAMP    := node_modules/.dfs-deps.stamp
BUILD_STAMP  := $(BUILD)/build.stamp
STAGE        := $(BUILD)/stage
STAGE_STAMP  := $(STAGE)/.stamp
NODE_PATH_FILE := $(BUILD)/node-path
TS_SOURCES   := $(shell find src test bench -name '*.ts' 2>/dev/null) tsconfig.json

.PHONY: all deps sysdeps build stage check test demo bench torture install uninstall clean distclean

all: build stage

# ---------------------------------------------------------------------------
# Dependencies

deps: sysdeps $(NPM_STAMP)

# Install missing Debian packages when root; otherwise warn and carry on, so a
# developer without root can still build (tests that need a tool skip loudly,
# and fail under CI=true). dpkg-query alone is fast, so a second run is cheap.
sysdeps:
	@if ! command -v dpkg-query >/dev/null; then
	  echo "make deps: WARNING: no dpkg-query; not a Debian system. Install by hand: $(SYS_PKGS)" >&2
	  exit 0
	fi
	missing=""
	for p in $(SYS_PKGS); do
	  [ "$$(dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null)" = "install ok installed" ] || missing="$$missing $$p"
	done
	[ -z "$$missing" ] && exit 0
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	  echo "make deps: installing Debian packages:$$missing"
	  export DEBIAN_FRONTEND=noninteractive
	  apt-get update -qq
	  apt-get install -y -qq --no-install-recommends $$missing >/dev/null
	else
	  echo "" >&2
	  echo "######################################################################" >&2
	  echo "## make deps: WARNING: missing Debian packages:$$missing" >&2
	  echo "## Not root, so not installing them. As root run:" >&2
	  echo "##   apt-get install --no-install-recommends$$missing" >&2
	  echo "## sd-notify will not build without libsystemd-dev; tests that need" >&2
	  echo "## the other tools will SKIP (and fail under CI=true)." >&2
	  echo "######################################################################" >&2
	  echo "" >&2
	fi

# node_modules is (re)installed only when package-lock.json is newer than the
# last install. A node_modules that npm itself installed after the lock was
# written is accepted as it is (saves a rebuild of the native addons).
# sysdeps comes first (order-only: it never makes the stamp stale) because
# sd-notify compiles against libsystemd-dev; as a prerequisite, not a sub-make,
# it runs once per make even with -j, so two apt-gets never race.
$(NPM_STAMP): package-lock.json | sysdeps
	@if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
	  : node_modules is newer than package-lock.json
	else
	  npm ci --no-audit --no-fund --no-update-notifier
	fi
	touch $@

# ---------------------------------------------------------------------------
# Build

build: $(BUILD_STAMP)

# tsc type-checks and compiles src/ test/ bench/ into dist/. The node binary
# is recorded now, as the user who builds sees it, because `sudo make install`
# often has another PATH (secure_path) and the wrappers must run this node.
$(BUILD_STAMP): $(TS_SOURCES) $(NPM_STAMP)
	@mkdir -p $(BUILD)
	node_modules/.bin/tsc -p .
	node_path=$$(command -v node)
	case "$$node_path" in /*) ;; *) echo "make build: 'command -v node' gave '$$node_path', not an absolute path" >&2; exit 1 ;; esac
	printf '%s\n' "$$node_path" > $(NODE_PATH_FILE)
	touch $@

# Production node_modules for the installed library: a copy of node_modules
# pruned of devDependencies. Copying keeps the native addons exactly as built
# and tested here; no network, no recompilation. Done at build time so that
# `make && sudo make install` writes nothing into the tree as root.
stage: $(STAGE_STAMP)

$(STAGE_STAMP): $(NPM_STAMP) package.json Makefile
	@rm -rf $(STAGE)
	mkdir -p $(STAGE)
	cp package.json package-lock.json $(STAGE)/
	cp -a node_modules $(STAGE)/node_modules
	(cd $(STAGE) && npm prune --omit=dev --no-audit --no-fund --no-update-notifier --ignore-scripts >/dev/null)
	rm -f $(STAGE)/package-lock.json $(STAGE)/$(NPM_STAMP)
	touch $@

# ---------------------------------------------------------------------------
# Tests and demos

check: deps build
	@TESTS='$(TESTS)' node test/run-tests.mjs

test: check

demo: deps build
	@if [ ! -f test/demo.sh ]; then echo "make demo: test/demo.sh does not exist yet" >&2; exit 1; fi
	bash test/demo.sh

bench: deps build
	@if [ ! -f dist/bench/run.js ]; then echo "make bench: dist/bench/run.js not built (bench/run.ts missing?)" >&2; exit 1; fi
	node dist/bench/run.js

torture: deps build
	@DFS_TORTURE='$(DFS_TORTURE)' DFS_TEST_TIMEOUT='$(TORTURE_TIMEOUT)' TESTS='$(or $(TESTS),torture scrub-kill)' node test/run-tests.mjs

# ---------------------------------------------------------------------------
# Installation (DESIGN.md §4)
#
# Layout: wrappers in BINDIR, the compiled library + production node_modules
# in LIBDIR, man pages in MANDIR/manN, systemd units in UNITDIR. DESTDIR is
# prefixed to every path written, never to file contents.
#
# Nothing in dist/ depends on PREFIX: the wrappers, the units and
# LIBDIR/install-paths.json are rendered here, at install time, from the
# PREFIX/BINDIR/LIBDIR given to `make install`, so they cannot disagree.
#
# Every file written and every directory created is listed (without DESTDIR)
# in LIBDIR/install-manifest.txt; `make uninstall` removes exactly those.
# A new install first removes what the previous manifest lists, so files
# dropped from the project do not linger.

MANIFEST = $(LIBDIR)/install-manifest.txt

# Shell helpers for install/uninstall (used as $(SH_HELPERS) inside recipes).
#   mkdir_tracked DIR  creates DIR (without DESTDIR) and its parents, recording
#                      in the manifest each directory that did not exist
#   record FILE        records FILE (without DESTDIR) in the manifest
#   uninstall_manifest removes what an existing manifest lists
define SH_HELPERS
D='$(DESTDIR)'
manifest_tmp=$$(mktemp)
trap 'rm -f "$$manifest_tmp"' EXIT
# Called on exit by install: even a failed install leaves a manifest of what it
# wrote, so that `make uninstall` can still remove it.
save_manifest() {
  [ -s "$$manifest_tmp" ] && [ -d "$$D$(LIBDIR)" ] || return 0
  printf '%s\n' '$(MANIFEST)' >> "$$manifest_tmp"
  install -m 0644 "$$manifest_tmp" "$$D$(MANIFEST)"
}
record() { printf '%s\n' "$$1" >> "$$manifest_tmp"; }
mkdir_tracked() {
  local d="$$1" new=()
  while [ -n "$$d" ] && [ "$$d" != / ] && [ ! -d "$$D$$d" ]; do new=("$$d/" "$${new[@]}"); d=$$(dirname "$$d"); done
  [ $${#new[@]} -eq 0 ] || { mkdir -p "$$D$$1"; printf '%s\n' "$${new[@]}" >> "$$manifest_tmp"; }
}
uninstall_manifest() {
  local m="$$D$(MANIFEST)" listed
  [ -f "$$m" ] || return 1
  listed=$$(cat "$$m")   # the manifest lists itself: read it before removing
  grep -v '/$$' <<<"$$listed" | while IFS= read -r f; do rm -f "$$D$$f"; done
  grep '/$$' <<<"$$listed" | sort -r | while IFS= read -r d; do rmdir "$$D$$d" 2>/dev/null || true; done
  return 0
}
endef

install: $(BUILD_STAMP) $(STAGE_STAMP)
	@$(SH_HELPERS)
	# World-readable, owner-writable, whatever the builder's or root's umask.
	umask 022
	case '$(PREFIX)$(BINDIR)$(LIBDIR)$(MANDIR)$(UNITDIR)' in *\'*|*'|'*) echo "make install: paths must not contain ' or |" >&2; exit 1 ;; esac
	for v in '$(PREFIX)' '$(BINDIR)' '$(LIBDIR)' '$(MANDIR)' '$(UNITDIR)'; do
	  case "$$v" in /*) ;; *) echo "make install: '$$v' is not an absolute path" >&2; exit 1 ;; esac
	done
	node_bin=$$(cat $(NODE_PATH_FILE))
	if uninstall_manifest; then echo "make install: removed the previous install under $$D$(LIBDIR)"; fi
	trap 'save_manifest; rm -f "$$manifest_tmp"' EXIT
	# The library: dist/src, package.json, production node_modules.
	mkdir_tracked '$(LIBDIR)'
	(cd dist && find src -type d) | while IFS= read -r d; do mkdir_tracked '$(LIBDIR)'/dist/"$$d"; done
	(cd dist && find src -type f) | while IFS= read -r f; do install -m 0644 dist/"$$f" "$$D"'$(LIBDIR)'/dist/"$$f"; record '$(LIBDIR)'/dist/"$$f"; done
	install -m 0644 package.json "$$D"'$(LIBDIR)'/package.json; record '$(LIBDIR)/package.json'
	(cd $(STAGE) && find node_modules -type d) | while IFS= read -r d; do mkdir_tracked '$(LIBDIR)'/"$$d"; done
	(cd $(STAGE) && tar cf - node_modules) | (cd "$$D"'$(LIBDIR)' && tar xf - --no-same-owner --no-same-permissions)
	(cd $(STAGE) && find node_modules ! -type d) | while IFS= read -r f; do record '$(LIBDIR)'/"$$f"; done
	# Where things went, for code that renders units or finds siblings.
	printf '{\n  "prefix": "%s",\n  "bindir": "%s",\n  "libdir": "%s",\n  "mandir": "%s",\n  "unitdir": "%s",\n  "node": "%s"\n}\n' \
	  '$(PREFIX)' '$(BINDIR)' '$(LIBDIR)' '$(MANDIR)' '$(UNITDIR)' "$$node_bin" > "$$D"'$(LIBDIR)/install-paths.json'
	record '$(LIBDIR)/install-paths.json'
	# One /bin/sh wrapper per executable (src/cli/node-flags.ts renders it: the
	# daemon's node flags, `exec` so node is the main process for Type=notify).
	mkdir_tracked '$(BINDIR)'
	for n in $(PRESENT_EXECUTABLES); do
	  [ -f dist/src/cli/$$n.js ] || { echo "make install: dist/src/cli/$$n.js missing; run make build" >&2; exit 1; }
	  "$$node_bin" dist/src/cli/node-flags.js wrapper $$n "$$node_bin" '$(LIBDIR)'/dist/src/cli/$$n.js > "$$D"'$(BINDIR)'/$$n
	  chmod 0755 "$$D"'$(BINDIR)'/$$n
	  record '$(BINDIR)'/$$n
	done
	# Man pages: man/NAME.N into MANDIR/manN.
	for f in man/*.[1-9]; do
	  [ -f "$$f" ] || continue
	  s=$${f##*.}
	  mkdir_tracked '$(MANDIR)'/man$$s
	  install -m 0644 "$$f" "$$D"'$(MANDIR)'/man$$s/
	  record '$(MANDIR)'/man$$s/$$(basename "$$f")
	done
	# Prometheus alert rules, for the operator to include from prometheus.yml.
	mkdir_tracked '$(PREFIX)/share/dynamicfs'
	install -m 0644 src/metrics/alerts.yml "$$D"'$(PREFIX)/share/dynamicfs/alerts.yml'
	record '$(PREFIX)/share/dynamicfs/alerts.yml'
	# systemd units, with @bindir@ and @libdir@ (and @node@) filled in.
	for f in units/*.service units/*.timer units/*.socket units/*.path units/*.target; do
	  [ -f "$$f" ] || continue
	  mkdir_tracked '$(UNITDIR)'
	  sed -e 's|@bindir@|$(BINDIR)|g' -e 's|@libdir@|$(LIBDIR)|g' -e "s|@node@|$$node_bin|g" "$$f" > "$$D"'$(UNITDIR)'/$$(basename "$$f")
	  chmod 0644 "$$D"'$(UNITDIR)'/$$(basename "$$f")
	  record '$(UNITDIR)'/$$(basename "$$f")
	done
	save_manifest
	trap 'rm -f "$$manifest_tmp"' EXIT
	echo "make install: $$(grep -vc '/$$' "$$D"'$(MANIFEST)') files under $$D$(PREFIX) (manifest: $$D$(MANIFEST))"
	echo "make install: executables: $(or $(strip $(PRESENT_EXECUTABLES)),none yet)"

uninstall:
	@$(SH_HELPERS)
	if uninstall_manifest; then
	  echo "make uninstall: removed what $$D$(MANIFEST) listed"
	else
	  echo "make uninstall: nothing to do: no $$D$(MANIFEST)"
	fi

# ---------------------------------------------------------------------------

clean:
	@rm -rf dist $(BUILD) $(NPM_STAMP)

distclean: clean
	@rm -rf node_modules
