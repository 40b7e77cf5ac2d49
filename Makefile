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
#   make dist       a release tarball that installs offline (build/dynamicfs-scrub-VERSION.tar.gz)
#   make deb        a Debian package (build/dynamicfs-scrub_VERSION_ARCH.deb)
#   make clean      removes dist/ and build/ (stamps, staging)
#
# In an unpacked release tarball (it has a RELEASE file) nothing is built:
# `make install` installs what the tarball carries, with the node on PATH.

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
# The node the wrappers and units run (default: the one that built the tree,
# or in a release tree the one on PATH at install time).
NODE_BIN ?=

# The executables, each src/cli/<name>.ts. Only those whose source exists
# are installed, so the build never depends on one that is not written yet.
EXECUTABLES := dfs-pool dfs-scrub dfs-scrubd dfs-scrub-schedule dfs-metrics dfs-inject dynamicfs
PRESENT_EXECUTABLES = $(if $(RELEASE),$(EXECUTABLES),$(foreach n,$(EXECUTABLES),$(if $(wildcard src/cli/$(n).ts),$(n))))

# An unpacked release tarball: compiled, staged and generated files shipped, nothing to build.
RELEASE := $(wildcard RELEASE)
VERSION := $(shell node -p "require('./package.json').version" 2>/dev/null)
NAME    := dynamicfs-scrub

# Debian packages the toolkit and its tests use. libsystemd-dev must be there
# before `npm ci`: sd-notify compiles against it. prometheus provides promtool;
# prometheus-alertmanager and chromium run in the fleet and status page tests.
SYS_PKGS := libsystemd-dev socat mandoc prometheus prometheus-alertmanager prometheus-node-exporter chromium b3sum fio xfsprogs btrfs-progs e2fsprogs util-linux time lintian debootstrap

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

# Node 18's headers, for sd-notify's addon: Debian 12's libnode-dev, unpacked
# here (installing it would clash with a newer nodejs package's headers).
NODE18_HEADERS := $(BUILD)/node18/usr/include/node
NODE_GYP = $$(dirname "$$(readlink -f "$$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js

.PHONY: all source-tree deps sysdeps build stage check test demo bench torture install uninstall dist deb clean distclean

ifneq ($(RELEASE),)
all:
	@echo "make: a release tree ($(NAME) $$(cat RELEASE)): nothing to build; make install PREFIX=... installs it"
else
all: build stage
endif

# In a release tree only install and uninstall work: the rest needs the sources.
source-tree:
	@if [ -n '$(RELEASE)' ]; then echo "make: '$(MAKECMDGOALS)' needs the source tree (git clone), not a release tarball" >&2; exit 1; fi

# ---------------------------------------------------------------------------
# Dependencies

deps: source-tree sysdeps $(NPM_STAMP)

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

build: source-tree $(BUILD_STAMP)

# tsc type-checks and compiles src/ test/ bench/ into dist/. The node binary
# is recorded now, as the user who builds sees it, because `sudo make install`
# often has another PATH (secure_path) and the wrappers must run this node.
#
# Then each executable, dist/src/cli/NAME.js, is replaced by a bundle of
# itself and the modules it requires (esbuild): node resolves, reads and
# wraps one file instead of ~40, which is most of what `dynamicfs status`
# spent over a bare node before it did any work (issue 12, bench startup).
# The bundle keeps CommonJS semantics: a module still runs on its first
# require, so lazy requires stay lazy. Small pure-JS packages (sade, mri,
# kleur) are bundled too: resolving a package costs more than reading it.
# Packages with native addons (found by their loaders as installed) and the
# big ones that only the metrics and the schedules load stay external, and
# so do the umbrella's executables: dynamicfs requires each as its own
# bundle. Every other file in dist/ stays as tsc wrote it (the verify
# thread, the tests). Running tsc by hand undoes the bundles: make build.
# The bundle is NAME.bundle.js; NAME.js runs it with V8's code cache.
BUNDLE_EXTERNAL := @napi-rs/* @node-rs/* @ronomon/* sd-notify bindings prom-client node-cron ./dfs-*
$(BUILD_STAMP): $(TS_SOURCES) $(NPM_STAMP)
	@mkdir -p $(BUILD)
	node_modules/.bin/tsc -p .
	rm -rf $(BUILD)/bundle
	node_modules/.bin/esbuild $(foreach n,$(PRESENT_EXECUTABLES),dist/src/cli/$(n).js) --bundle --platform=node --format=cjs --target=node18 \
	  $(foreach e,$(BUNDLE_EXTERNAL),'--external:$(e)') --outdir=$(BUILD)/bundle --log-level=warning
	# The bundle is no script of its own: its #! line (the entry's) goes, an empty line keeps line numbers.
	for n in $(PRESENT_EXECUTABLES); do sed '1s/^#!.*//' $(BUILD)/bundle/$$n.js > dist/src/cli/$$n.bundle.js; done
	# NAME.js becomes a stub that runs NAME.bundle.js with V8's code cache, made now (src/cli/bundle-loader.ts).
	node dist/src/cli/bundle-loader.js entries dist/src/cli $(PRESENT_EXECUTABLES)
	node_path=$$(command -v node)
	case "$$node_path" in /*) ;; *) echo "make build: 'command -v node' gave '$$node_path', not an absolute path" >&2; exit 1 ;; esac
	printf '%s\n' "$$node_path" > $(NODE_PATH_FILE)
	# Bash completion, from the same option tables as --help and the man pages.
	mkdir -p $(BUILD)/completions
	for n in $(PRESENT_EXECUTABLES); do node dist/src/cli/completion.js $$n > $(BUILD)/completions/$$n; done
	touch $@

# Production node_modules for the installed library: a copy of node_modules
# pruned of devDependencies. Copying keeps the native addons exactly as built
# and tested here; no network, no recompilation. Done at build time so that
# `make && sudo make install` writes nothing into the tree as root.
stage: source-tree $(STAGE_STAMP)

$(STAGE_STAMP): $(NPM_STAMP) package.json Makefile $(NODE18_HEADERS)/node.h
	@rm -rf $(STAGE)
	mkdir -p $(STAGE)
	cp package.json package-lock.json $(STAGE)/
	cp -a node_modules $(STAGE)/node_modules
	(cd $(STAGE) && npm prune --omit=dev --no-audit --no-fund --no-update-notifier --ignore-scripts >/dev/null)
	rm -f $(STAGE)/package-lock.json $(STAGE)/$(NPM_STAMP)
	m=$(STAGE)/node_modules
	# Only what runs: no examples, tests, type declarations, source maps, docs or addon sources.
	rm -rf $$m/@types $$m/.package-lock.json
	find $$m -depth -type d \( -name examples -o -name example -o -name test -o -name tests -o -name docs -o -name .github \) -exec rm -rf {} +
	find $$m -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -iname 'README*' -o -iname 'CHANGELOG*' -o -iname 'HISTORY*' -o -name '*.md' -o -name '*.ts' \
	  -o -name '*.c' -o -name '*.cc' -o -name '*.h' -o -name '*.gyp' -o -name '*.gypi' -o -name '.npmignore' -o -name '.travis.yml' -o -name '.eslintrc*' \) -delete
	# sd-notify's addon speaks V8's C++ ABI, one Node.js major each: it is
	# built for Debian 12's Node 18 (ABI 108) and for the node that built this
	# tree, and `bindings` picks lib/binding/node-vABI-linux-ARCH by the running node.
	abi=$$(node -p process.versions.modules); arch=$$(node -p process.arch)
	sd=$$m/sd-notify
	mkdir -p $$sd/lib/binding/node-v$$abi-linux-$$arch
	cp node_modules/sd-notify/build/Release/notify.node $$sd/lib/binding/node-v$$abi-linux-$$arch/notify.node
	rm -rf $$sd/build
	if [ "$$abi" != 108 ]; then
	  rm -rf $(BUILD)/sd-notify-108 && cp -a node_modules/sd-notify $(BUILD)/sd-notify-108 && rm -rf $(BUILD)/sd-notify-108/build
	  (cd $(BUILD)/sd-notify-108 && node $(NODE_GYP) rebuild --nodedir=$(abspath $(NODE18_HEADERS)/../..) >/dev/null)
	  mkdir -p $$sd/lib/binding/node-v108-linux-$$arch
	  cp $(BUILD)/sd-notify-108/build/Release/notify.node $$sd/lib/binding/node-v108-linux-$$arch/notify.node
	fi
	# Shared objects, loaded by node, not run: stripped, and not executable.
	find $$m -name '*.node' -exec strip --strip-unneeded {} + -exec chmod 0644 {} +
	touch $@


$(NODE18_HEADERS)/node.h:
	@rm -rf $(BUILD)/node18 && mkdir -p $(BUILD)/node18
	fetch() { (cd $(BUILD)/node18 && apt-get download libnode-dev >/dev/null 2>&1); }
	fetch || { [ "$$(id -u)" = 0 ] && apt-get update -qq && fetch; } || {
	  echo "make stage: cannot fetch Debian 12's libnode-dev (Node 18 headers for sd-notify's addon): apt-get download libnode-dev failed" >&2; exit 1; }
	(cd $(BUILD)/node18 && dpkg-deb -x libnode-dev_*.deb . && rm -f libnode-dev_*.deb)
	grep -q '^#define NODE_MODULE_VERSION 108$$' $(NODE18_HEADERS)/node_version.h || {
	  echo "make stage: the libnode-dev fetched is not Node 18's (ABI 108): this needs Debian 12's archive" >&2; rm -rf $(BUILD)/node18; exit 1; }
	test -f $@

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

# Files for Prometheus and Grafana, installed under $(PREFIX)/share/dynamicfs/
# at their path below src/metrics/ (grafana/dynamicfs.json in grafana/).
SHARED_FILES := src/metrics/alerts.yml src/metrics/records.yml src/metrics/grafana/dynamicfs.json

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

install: $(if $(RELEASE),,$(BUILD_STAMP) $(STAGE_STAMP))
	@$(SH_HELPERS)
	# World-readable, owner-writable, whatever the builder's or root's umask.
	umask 022
	# Paths go into unit files and sed expressions: plain characters only.
	case '$(PREFIX)$(BINDIR)$(LIBDIR)$(MANDIR)$(UNITDIR)' in *[!A-Za-z0-9/._+-]*) echo "make install: PREFIX, BINDIR, LIBDIR, MANDIR and UNITDIR may hold only letters, digits and / . _ + -" >&2; exit 1 ;; esac
	for v in '$(PREFIX)' '$(BINDIR)' '$(LIBDIR)' '$(MANDIR)' '$(UNITDIR)'; do
	  case "$$v" in /*) ;; *) echo "make install: '$$v' is not an absolute path" >&2; exit 1 ;; esac
	done
	# The node that built the tree; in a release tree, the one on PATH here.
	node_bin='$(NODE_BIN)'
	[ -n "$$node_bin" ] || node_bin=$$(cat $(NODE_PATH_FILE) 2>/dev/null || command -v node || true)
	case "$$node_bin" in /*) ;; *) echo "make install: no node on PATH (Node.js 18 or later is needed)" >&2; exit 1 ;; esac
	"$$node_bin" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 18 || (a === 18 && b >= 19) ? 0 : 1)' \
	  || { echo "make install: $$node_bin is Node.js $$("$$node_bin" -v); 18.19 or later is needed" >&2; exit 1; }
	# sd-notify's addon is built per Node.js ABI: one of those carried must be this node's.
	abi=$$("$$node_bin" -p 'process.versions.modules + "-linux-" + process.arch')
	[ -d $(STAGE)/node_modules/sd-notify/lib/binding/node-v$$abi ] || {
	  echo "make install: $$node_bin ($$("$$node_bin" -v), ABI node-v$$abi) has no sd-notify addon here; carried: $$(ls $(STAGE)/node_modules/sd-notify/lib/binding | tr '\n' ' ')" >&2; exit 1; }
	if uninstall_manifest; then echo "make install: removed the previous install under $$D$(LIBDIR)"; fi
	trap 'save_manifest; rm -f "$$manifest_tmp"' EXIT
	# The library: dist/src, package.json, production node_modules.
	mkdir_tracked '$(LIBDIR)'
	# src/packaging builds release artifacts: not installed.
	(cd dist && find src -path src/packaging -prune -o -type d -print) | while IFS= read -r d; do mkdir_tracked '$(LIBDIR)'/dist/"$$d"; done
	(cd dist && find src -path src/packaging -prune -o -type f -print) | while IFS= read -r f; do install -m 0644 dist/"$$f" "$$D"'$(LIBDIR)'/dist/"$$f"; record '$(LIBDIR)'/dist/"$$f"; done
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
	  # The script itself starts with #!/usr/bin/env node (package.json's bin): runnable too.
	  chmod 0755 "$$D"'$(LIBDIR)'/dist/src/cli/$$n.js
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
	# Bash completion, loaded by bash-completion on first use of each command.
	mkdir_tracked '$(PREFIX)/share/bash-completion/completions'
	for n in $(PRESENT_EXECUTABLES); do
	  install -m 0644 $(BUILD)/completions/$$n "$$D"'$(PREFIX)/share/bash-completion/completions'/$$n
	  record '$(PREFIX)/share/bash-completion/completions'/$$n
	done
	# Prometheus alert and recording rules, for the operator to include from
	# prometheus.yml, and the Grafana dashboard, for a provisioning directory.
	mkdir_tracked '$(PREFIX)/share/dynamicfs/grafana'
	for f in $(SHARED_FILES); do
	  install -m 0644 "$$f" "$$D"'$(PREFIX)/share/dynamicfs'/"$${f#src/metrics/}"
	  record '$(PREFIX)/share/dynamicfs'/"$${f#src/metrics/}"
	done
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
# Release artifacts

RELEASE_DIR := $(BUILD)/$(NAME)-$(VERSION)
TARBALL     := $(BUILD)/$(NAME)-$(VERSION).tar.gz
# Reproducible archives: every member dated by the last commit (or now, outside git).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)

# The tarball is the tree `make install` reads, already built: dist/src, the
# staged production node_modules (native addons built here, sd-notify's for
# Node 18 and this node), completions, units, man pages, the alert and
# recording rules and the Grafana dashboard.
dist: source-tree $(TARBALL)

# Everything the tarball copies as it is: a changed man page or unit makes a new one.
RELEASE_FILES := $(wildcard units/* man/*) README.md Makefile package.json $(SHARED_FILES)

$(TARBALL): $(BUILD_STAMP) $(STAGE_STAMP) $(RELEASE_FILES)
	@rm -rf $(RELEASE_DIR) $@
	mkdir -p $(RELEASE_DIR)/dist $(RELEASE_DIR)/build $(RELEASE_DIR)/src/metrics/grafana
	cp -a dist/src $(RELEASE_DIR)/dist/
	cp -a $(STAGE) $(RELEASE_DIR)/build/stage
	cp -a $(BUILD)/completions $(RELEASE_DIR)/build/
	cp -a units man Makefile README.md package.json $(RELEASE_DIR)/
	for f in $(SHARED_FILES); do cp "$$f" $(RELEASE_DIR)/"$$f"; done
	printf '%s\n' '$(VERSION)' > $(RELEASE_DIR)/RELEASE
	tar -C $(BUILD) --sort=name --owner=0 --group=0 --numeric-owner --mode=go-w,a+rX --mtime=@$(SOURCE_DATE_EPOCH) -cf - $(NAME)-$(VERSION) | gzip -9n > $@
	rm -rf $(RELEASE_DIR)
	echo "make dist: $@ ($$(du -h $@ | cut -f1))"

# The Debian package: `make install` into a staging root with PREFIX=/usr and
# Debian's node, then src/packaging/deb.ts adds what dpkg needs.
DEB_ARCH       := $(shell dpkg --print-architecture 2>/dev/null)
DEB            := $(BUILD)/$(NAME)_$(VERSION)_$(DEB_ARCH).deb
DEB_ROOT       := $(BUILD)/deb-root
DEB_MAINTAINER ?= DynamicFS scrub toolkit maintainers <dynamicfs-scrub@lists.dynamicfs.org>

deb: source-tree $(DEB)

$(DEB): $(BUILD_STAMP) $(STAGE_STAMP) $(RELEASE_FILES) dist/src/packaging/deb.js
	@rm -rf $(DEB_ROOT) $@
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEB_ROOT)) PREFIX=/usr UNITDIR=/usr/lib/systemd/system NODE_BIN=/usr/bin/node >/dev/null
	node dist/src/packaging/deb.js $(DEB_ROOT) '$(VERSION)' '$(DEB_ARCH)' '$(DEB_MAINTAINER)' "$$(date -R -d @$(SOURCE_DATE_EPOCH))"
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) dpkg-deb --build --root-owner-group -Zxz $(DEB_ROOT) $@ >/dev/null
	echo "make deb: $@ ($$(du -h $@ | cut -f1))"

# ---------------------------------------------------------------------------

clean:
	@rm -rf dist $(BUILD) $(NPM_STAMP)

distclean: clean
	@rm -rf node_modules
