# regwall: plain GNU Makefile (in the spirit of wireguard-tools src/Makefile).
#   make            regwalld, regwallctl
#   make test       unit tests (cmocka) + network and end-to-end tests (root, namespaces)
#   make asan       unit tests built and run under ASan+UBSan
#   make fuzz       every libFuzzer harness for FUZZ_SECONDS (default 30)
#   make demo       the lab demo
#   make install    PREFIX=/usr/local DESTDIR=
#   make deb        $(BUILD)/regwall_<version>_<arch>.deb (docs/design/package.md)
#   make pkg-test   that package: lintian, install/upgrade/purge in a clean root
# V=1 shows full command lines.

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
BUILD ?= build
FUZZ_SECONDS ?= 30

PKGS := libnftnl libmnl libpcap libssl libcrypto libconfig jansson libseccomp libcap-ng libsystemd libqrencode
TEST_PKGS := cmocka

CC ?= cc
NM ?= nm
ifeq ($(origin CC),default)
CC := cc
endif
PKG_CONFIG ?= pkg-config

HARDEN_CFLAGS := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -fno-strict-aliasing
HARDEN_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -I. -MMD -MP
LDLIBS :=

ifeq ($(SANITIZE),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
CFLAGS += $(HARDEN_CFLAGS)
LDFLAGS += $(HARDEN_LDFLAGS)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Packages present? (the deps script is run only when one is missing)
DEPS_OK := $(shell $(PKG_CONFIG) --exists $(PKGS) $(TEST_PKGS) 2>/dev/null && echo 1)

# Commands each target runs (all from scripts/install-deps.sh). Target-
# specific values reach the 'deps' prerequisite, so `make unit` checks what
# the unit tests run and `make fuzz` adds clang; a few `command -v` calls.
DEPS_CMDS := $(firstword $(CC)) pkg-config ar
UNIT_CMDS := openssl curl nft ip strace promtool man groff
NET_CMDS := nft ip python3 tcpdump ping curl openssl jq unshare pgrep promtool prometheus
E2E_CMDS := nft ip python3 curl openssl skopeo docker-registry
BENCH_CMDS := nft ip python3 curl openssl haproxy nginx /usr/bin/time
DEMO_CMDS := nft ip python3 curl skopeo docker-registry
DEB_CMDS := dpkg-buildpackage dh lintian
PKG_TEST_CMDS := mmdebstrap nft ip unshare stdbuf
unit asan: DEPS_CMDS += $(UNIT_CMDS)
net: DEPS_CMDS += $(NET_CMDS)
e2e: DEPS_CMDS += $(E2E_CMDS)
test: DEPS_CMDS += $(UNIT_CMDS) $(NET_CMDS) $(E2E_CMDS) $(DEB_CMDS) $(PKG_TEST_CMDS)
fuzz fuzz-build: DEPS_CMDS += $(FUZZ_CC)
fuzz fuzz-build: DEPS_FUZZ_RT := 1
bench: DEPS_CMDS += $(BENCH_CMDS)
demo: DEPS_CMDS += $(DEMO_CMDS)
deb: DEPS_CMDS += $(DEB_CMDS)
pkg-test: DEPS_CMDS += $(DEB_CMDS) $(PKG_TEST_CMDS)
IMAGE_CMDS := mmdebstrap mkfs.vfat mcopy sfdisk mkfs.ext4 qemu-img
IMAGE_TEST_CMDS := qemu-system-x86_64 ssh skopeo docker-registry curl
image image-test: DEPS_CMDS += $(DEB_CMDS) $(IMAGE_CMDS)
image-test: DEPS_CMDS += $(IMAGE_TEST_CMDS)

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

# One static archive per folder, linked in layer order (base <- inspect <-
# rules <- fwd <- appliance: each may use only the folders before it).
# scripts/check-layers.sh runs before the archives are used and fails the
# build on an upward #include or on an archive that needs a symbol from a
# later layer. Tests, fuzzers and benchmarks link exactly the code that runs.
LAYERS := base inspect rules fwd appliance
MAIN_SRC := appliance/regwalld_main.c appliance/regwallctl_main.c
LIB_SRC := $(filter-out $(MAIN_SRC),$(foreach d,$(LAYERS),$(wildcard $(d)/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
layer_objs = $(filter $(BUILD)/obj/$(1)/%,$(LIB_OBJ))
LAYER_LIBS := $(foreach d,$(LAYERS),$(BUILD)/lib$(d).a)
# link order: the highest layer first
LINK_LIBS := $(foreach d,appliance fwd rules inspect base,$(BUILD)/lib$(d).a)
LIB := $(BUILD)/layers.ok

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TESTLIB_SRC := $(wildcard tests/unit/support_*.c)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/obj/%.o)

BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.SECONDEXPANSION:
.PHONY: all deps test unit net e2e asan fuzz fuzz-build bench demo install clean deb pkg-test image image-test
all: deps $(BUILD)/regwalld $(BUILD)/regwallctl

# Runs the deps script when a library or a needed command is missing (and,
# for fuzz, when clang lacks its libFuzzer runtime: libclang-rt-*-dev).
deps:
	@missing="$(if $(filter 1,$(DEPS_OK)),,libraries)"; \
	for c in $(sort $(DEPS_CMDS)); do \
		command -v "$$c" >/dev/null 2>&1 || missing="$$missing $$c"; \
	done; \
	if [ "$(DEPS_FUZZ_RT)" = 1 ] && command -v "$(FUZZ_CC)" >/dev/null 2>&1 && \
	   ! "$(FUZZ_CC)" -print-file-name=libclang_rt.fuzzer-$$(uname -m).a | grep -q /; then \
		missing="$$missing libFuzzer-runtime"; \
	fi; \
	if [ -n "$$missing" ]; then \
		echo "deps: missing:$${missing# } -> scripts/install-deps.sh"; \
		bash scripts/install-deps.sh; \
		for c in $(sort $(DEPS_CMDS)); do \
			command -v "$$c" >/dev/null 2>&1 || \
				echo "deps: warning: $$c still not on PATH" >&2; \
		done; \
	fi

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/lib%.a: $$(call layer_objs,$$*)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# the layer check (includes and symbols) stands for "the libraries are
# ready": every link below depends on it
$(LIB): $(LAYER_LIBS) scripts/check-layers.sh $(LIB_SRC) $(wildcard $(addsuffix /*.h,$(LAYERS)))
	@$(if $(Q),echo "  LAYERS  $(LAYERS)")
	$(Q)NM="$(NM)" bash scripts/check-layers.sh $(BUILD) $(LAYERS)
	@touch $@

$(BUILD)/regwalld: $(BUILD)/obj/appliance/regwalld_main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LINK_LIBS) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/regwallctl: $(BUILD)/obj/appliance/regwallctl_main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LINK_LIBS) $(PKG_LIBS) $(LDLIBS)

# test and bench objects are not intermediates: a rebuild keeps them
.SECONDARY: $(LIB_OBJ) $(UNIT_SRC:%.c=$(BUILD)/obj/%.o) $(BENCH_SRC:%.c=$(BUILD)/obj/%.o)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TESTLIB_OBJ) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LINK_LIBS) $(PKG_LIBS) $(TEST_LIBS) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LINK_LIBS) $(PKG_LIBS) $(LDLIBS)

# Unit tests (no root) then network tests (root; they skip outside CI
# without it, and fail under CI=true). One summary line at the end.
unit: deps $(UNIT_BIN) $(BUILD)/regwalld $(BUILD)/regwallctl
	$(Q)V=$(V) BUILD=$(BUILD) bash tests/run-unit.sh $(UNIT_BIN)

net: deps $(BUILD)/regwalld $(BUILD)/regwallctl $(BENCH_BIN)
	$(Q)V=$(V) BUILD=$(abspath $(BUILD)) bash tests/net/run.sh

# End-to-end: the data path with real clients, registry and TLS (root).
e2e: deps $(BUILD)/regwalld $(BUILD)/regwallctl
	$(Q)V=$(V) BUILD=$(abspath $(BUILD)) RUN_LABEL=e2e TEST_TIMEOUT=900 bash tests/net/run.sh tests/e2e/test_*.sh

# All four suites (unit, net, e2e, pkg) run even if one fails; one total
# line at the end.
test: deps
	$(Q)sum=$(abspath $(BUILD))/test-summary; mkdir -p $(BUILD); rm -f "$$sum"; rc=0; \
	TEST_SUMMARY="$$sum" $(MAKE) --no-print-directory unit || rc=1; \
	TEST_SUMMARY="$$sum" $(MAKE) --no-print-directory net || rc=1; \
	TEST_SUMMARY="$$sum" $(MAKE) --no-print-directory e2e || rc=1; \
	TEST_SUMMARY="$$sum" $(MAKE) --no-print-directory pkg-test || rc=1; \
	awk '{ p += $$2; f += $$3; s += $$4 } END { printf "total: %d passed, %d failed, %d skipped\n", p, f, s }' \
		"$$sum" 2>/dev/null; \
	[ -s "$$sum" ] || { echo "total: no suite reported (build failed?)"; rc=1; }; \
	exit $$rc

# The allocation count (test_tls_defer) interposes malloc, which ASan owns,
# and the workers' seccomp filter is not built with the sanitizer (its
# runtime needs other system calls): those skips are by design here, any
# other fails under CI=true.
asan: deps
	$(Q)UNIT_EXPECTED_SKIPS="test_tls_defer:test_no_heap test_sandbox:test_forbidden_kill test_sandbox:test_allowed_path" \
		$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 unit

# libFuzzer: the library compiled once with clang's coverage and sanitizer
# instrumentation (fuzzer-no-link), each harness linked against it.
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -I. $(FUZZ_SAN) \
	-Wall -Wextra -Werror -Wno-unused-parameter -MMD -MP
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/fuzzobj/%.o)
$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/fuzz/libregwall-fuzz.a: $(FUZZ_LIB_OBJ)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/fuzz/libregwall-fuzz.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< \
		$(BUILD)/fuzz/libregwall-fuzz.a $(PKG_LIBS)

fuzz-build: deps $(FUZZ_BIN)
fuzz: fuzz-build
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) BUILD=$(BUILD) bash tests/fuzz/run.sh $(FUZZ_BIN)

bench: deps all $(BENCH_BIN)
	$(Q)for b in scripts/bench/*.sh; do BUILD=$(abspath $(BUILD)) bash $$b || exit 1; done

demo: deps all
	$(Q)BUILD=$(abspath $(BUILD)) bash scripts/demo.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/regwall
	install -m 0755 $(BUILD)/regwalld $(DESTDIR)$(SBINDIR)/regwalld
	install -m 0755 $(BUILD)/regwallctl $(DESTDIR)$(BINDIR)/regwallctl
	install -m 0644 docs/regwall.conf.sample $(DESTDIR)$(SYSCONFDIR)/regwall/regwall.conf.sample
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's#/usr/sbin/regwalld#$(SBINDIR)/regwalld#g' appliance/regwalld.service \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/regwalld.service
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 appliance/regwall.bash-completion $(DESTDIR)$(BASHCOMPDIR)/regwallctl
	install -m 0644 appliance/regwall.bash-completion $(DESTDIR)$(BASHCOMPDIR)/regwalld
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 docs/man/regwall.conf.5 $(DESTDIR)$(MANDIR)/man5/regwall.conf.5
	install -m 0644 docs/man/regwalld.8 docs/man/regwallctl.8 $(DESTDIR)$(MANDIR)/man8/

# The Debian package (docs/design/package.md). The packaging lives in
# appliance/debian/ (the repository's top level is fixed); this stages a
# source tree under $(BUILD)/deb/ with that folder as its debian/, writes
# debian/changelog from appliance/rw_version.h (DEB_VERSION overrides it:
# the upgrade test builds a second version) and runs dpkg-buildpackage
# there. MAKEFLAGS is cleared so this make's command line (BUILD=,
# SANITIZE=, ...) does not leak into the package's own build.
RW_VERSION := $(shell sed -n 's/^\#define RW_VERSION "\(.*\)"/\1/p' appliance/rw_version.h)
DEB_VERSION ?= $(RW_VERSION)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB := $(BUILD)/regwall_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_STAGE := $(BUILD)/deb/regwall-$(DEB_VERSION)
DEB_TREE := base inspect rules fwd appliance docs scripts Makefile README.md
DEB_INPUTS := $(wildcard $(addsuffix /*,$(LAYERS)) appliance/debian/* appliance/debian/source/* \
	docs/man/* docs/regwall.conf.sample) README.md Makefile
DEB_MAINT := regwall maintainers <maintainers@users.noreply.r-seed-346c8a26.example>

deb: deps $(DEB)
$(DEB): $(DEB_INPUTS)
	@$(if $(Q),echo "  DEB     $@")
	$(Q)rm -rf $(DEB_STAGE) && mkdir -p $(DEB_STAGE)
	$(Q)tar -cf - --exclude=appliance/debian $(DEB_TREE) | tar -C $(DEB_STAGE) -xf -
	$(Q)cp -r appliance/debian $(DEB_STAGE)/debian
	$(Q){ printf 'regwall (%s) unstable; urgency=medium\n\n' '$(DEB_VERSION)'; \
	  printf '  * Built from the regwall repository at %s.\n\n' \
		"$$(git rev-parse --short HEAD 2>/dev/null || echo 'an unknown commit')"; \
	  printf ' -- %s  %s\n' '$(DEB_MAINT)' \
		"$$(git log -1 --format=%cD 2>/dev/null || date -R)"; \
	} > $(DEB_STAGE)/debian/changelog
	$(Q)cd $(DEB_STAGE) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		DEB_BUILD_OPTIONS="$${DEB_BUILD_OPTIONS:-parallel=2}" \
		dpkg-buildpackage -b -us -uc $(if $(Q),>../build.log 2>&1 || \
		{ tail -n 40 ../build.log; echo "deb: dpkg-buildpackage failed; log: $(BUILD)/deb/build.log"; exit 1; })
	$(Q)cp $(BUILD)/deb/regwall_$(DEB_VERSION)_$(DEB_ARCH).deb $@
	@echo "deb: $@"

# lintian, then install / upgrade / purge in a clean bookworm root
# (mmdebstrap), then the table kept across an upgrade (tests/pkg/)
pkg-test: deps $(DEB)
	$(Q)V=$(V) BUILD=$(abspath $(BUILD)) DEB=$(abspath $(DEB)) RUN_LABEL=pkg TEST_TIMEOUT=900 \
		bash tests/net/run.sh tests/pkg/test_*.sh

# The gateway VM image (docs/design/image.md): $(BUILD)/image/
# regwall-gateway.img (raw, GPT, UEFI) and .qcow2, built as root with
# mmdebstrap from the package (REGWALL_DEB= takes another one); no KVM,
# loop device or mount. image-test boots it in qemu (TCG + OVMF) in a lab.
IMAGE_DIR := $(BUILD)/image
REGWALL_DEB ?= $(DEB)
IMAGE_INPUTS := $(shell find scripts/image -type f 2>/dev/null)
image: deps $(IMAGE_DIR)/regwall-gateway.img
$(IMAGE_DIR)/regwall-gateway.img: $(REGWALL_DEB) $(IMAGE_INPUTS)
	$(Q)bash scripts/image/build-image.sh $(IMAGE_DIR) $(REGWALL_DEB)
image-test: image
	$(Q)V=$(or $(V),1) BUILD=$(abspath $(BUILD)) RUN_LABEL=image TEST_TIMEOUT=1800 bash tests/net/run.sh tests/image/test_image.sh

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj $(BUILD)/fuzzobj $(BUILD)/fuzz -name '*.d' 2>/dev/null)
