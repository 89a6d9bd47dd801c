# sluice: build, run the demo, test, benchmark, install.
#   make            build daemon/sluiced and sluicectl
#   make install    sluiced, sluicectl, systemd units, man pages, bash completion,
#                   the default and an example config (never over edited ones)
#   make uninstall  removes what install put there, except the configs
#   make dist       sluice-VERSION.tar.gz of the committed tree (git archive)
#   make run        install missing dependencies, build, run conf/demo.yaml
#   make check      install missing dependencies, the layer check, unit +
#                   integration tests, then the same suite under ASan+UBSan
#                   (SANITIZE=1)
#   make layers     scripts/layers: no #include in daemon/ points up a layer
#   make bench      scripts/bench: sluice side by side with its peers
#   make fuzz       build the libFuzzer targets (tests/fuzz/) and run each for
#                   FUZZ_SECONDS (default 60) seconds
#   make SANITIZE=1 build with AddressSanitizer and UndefinedBehaviorSanitizer

VERSION  := $(shell sed -n 's/^\#define SLUICE_VERSION "\(.*\)"/\1/p' daemon/version.h)
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
PKGS      = libevent libevent_openssl openssl hiredis yaml-0.1
CFLAGS   ?= -O2 -g
# Flags the build needs whatever CFLAGS the user gives (`make CFLAGS=-O0` keeps them):
# the language, the warnings, the feature macros, the libraries' include paths and
# -MMD -MP, so each object depends on the headers it includes (build/*/*.d).
SLUICE_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -MMD -MP
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

ifeq ($(SANITIZE),1)
BUILD    ?= build/san
SLUICE_CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer \
                  -fno-sanitize-recover=all
SLUICE_LDFLAGS := -fsanitize=address,undefined
else
BUILD    ?= build/release
# Hardening, for release builds only (the sanitizers bring their own checks and clash
# with the fortified functions): stack protector, position-independent executables and
# full RELRO. _FORTIFY_SOURCE needs the optimiser, so it comes only with an -O in
# CFLAGS, and a packager's own setting (dpkg-buildflags puts one in CPPFLAGS) wins;
# -U first, as some compilers predefine it.
SLUICE_CFLAGS  += -fstack-protector-strong -fPIE \
                  $(if $(filter -O -O1 -O2 -O3 -Os -Og -Ofast,$(CFLAGS)), \
                    $(if $(findstring _FORTIFY_SOURCE,$(CPPFLAGS) $(CFLAGS)),, \
                      -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2))
SLUICE_LDFLAGS := -pie -Wl,-z,relro,-z,now
endif
ALL_CFLAGS  = $(SLUICE_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SLUICE_LDFLAGS) $(LDFLAGS)

# daemon/ctl-*.c belong to sluicectl alone.
CTL_SRCS    := $(wildcard daemon/ctl-*.c)
DAEMON_SRCS := $(filter-out daemon/sluicectl.c $(CTL_SRCS),$(wildcard daemon/*.c))
LIB_SRCS    := $(filter-out daemon/sluiced.c,$(DAEMON_SRCS))
DAEMON_OBJS := $(DAEMON_SRCS:daemon/%.c=$(BUILD)/%.o)
LIB_OBJS    := $(LIB_SRCS:daemon/%.c=$(BUILD)/%.o)
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(HELPER_SRCS:tests/helpers/%.c=$(BUILD)/helpers/%)

.PHONY: all run check test-build deps bench install uninstall dist clean lint fuzz \
	fuzz-build layers
all: $(BUILD)/sluiced $(if $(wildcard daemon/sluicectl.c),$(BUILD)/sluicectl)
ifneq ($(SANITIZE),1)
	@ln -sf ../$(BUILD)/sluiced daemon/sluiced
endif

$(BUILD)/%.o: daemon/%.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/sluiced: $(DAEMON_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

# sluicectl reads -c files with the daemon's loader: conf.o and the base layer under
# it (scripts/layers), nothing that runs a loop.
CTL_LOADER_OBJS := $(addprefix $(BUILD)/,conf.o conf-keys.o conf-json.o addr.o tls.o units.o log.o json.o util.o)
$(BUILD)/sluicectl: $(BUILD)/sluicectl.o $(CTL_SRCS:daemon/%.c=$(BUILD)/%.o) $(CTL_LOADER_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) -lm

# Each unit test links only the objects its source names on "LINK:" comment lines:
# what it tests and what that calls (a missing one fails the link). "all" stands for
# every daemon object but the mains; a "(" starts a remark.
open_paren := (
unit_link = $(addprefix $(BUILD)/,$(patsubst all,$(LIB_SRCS:daemon/%.c=%.o), \
              $(shell sed -n '/LINK:/{s/.*LINK://;s/$(open_paren).*//;p}' $(1))))
define unit_test_rule
$(if $(call unit_link,$(1)),,$(error $(1) has no LINK: line naming the objects it links))
$(BUILD)/tests/$(notdir $(1:.c=)): $(1) $(call unit_link,$(1)) | $(BUILD)
	$$(CC) $$(ALL_CFLAGS) -Idaemon $$(shell pkg-config --cflags check) $$(ALL_LDFLAGS) \
		-o $$@ $$(filter %.c %.o,$$^) $$(shell pkg-config --libs check) $$(LDLIBS) -lm
endef
$(foreach t,$(UNIT_SRCS),$(eval $(call unit_test_rule,$(t))))

$(BUILD)/helpers/%: tests/helpers/%.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

$(BUILD):
	@mkdir -p $(BUILD)/tests $(BUILD)/helpers

# What -MMD wrote: each object, test and helper depends on the headers it includes.
-include $(wildcard $(BUILD)/*.d $(BUILD)/tests/*.d $(BUILD)/helpers/*.d)

test-build: all $(UNIT_BINS) $(HELPER_BINS)

deps:
	@scripts/install-deps

run: deps
	@$(MAKE) --no-print-directory all
	./daemon/sluiced -c conf/demo.yaml

layers:
	@scripts/layers

check: deps
	@scripts/layers
	@$(MAKE) --no-print-directory test-build
	@$(MAKE) --no-print-directory SANITIZE=1 test-build
	@$(MAKE) --no-print-directory fuzz-build
	@tests/run build/release build/san

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench/run

# libFuzzer targets: every tests/fuzz/fuzz_NAME.c, linked with every daemon object
# but the two mains, all built by clang with ASan+UBSan in their own directory.
# tests/fuzz/run runs them (from tests/fuzz/corpus/NAME, read only: new inputs go to
# build/fuzz/corpus/NAME, crashes to build/fuzz/crashes/); tests/run runs each for
# a few seconds.
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := -O1 -g -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
                -D_GNU_SOURCE -fno-omit-frame-pointer -fno-sanitize-recover=all \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_SAN     := address,undefined
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJS    := $(LIB_SRCS:daemon/%.c=$(FUZZ_BUILD)/obj/%.o)

$(FUZZ_BUILD)/obj/%.o: daemon/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -Idaemon -o $@ $< $(FUZZ_OBJS) \
		$(LDLIBS)

fuzz-build: $(FUZZ_BINS)
-include $(wildcard $(FUZZ_BUILD)/obj/*.d)
.SECONDARY: $(FUZZ_OBJS)

fuzz: fuzz-build
	@tests/fuzz/run $(FUZZ_SECONDS)

# Where `make install` puts things; DESTDIR is prepended to every one of them.
# The units name $(SBINDIR)/sluiced (rewritten from the /usr/local/sbin in
# systemd/*.service); the example config is never installed over an existing one.
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
COMPDIR     ?= $(PREFIX)/share/bash-completion/completions
CONFDIR     ?= /etc/sluice

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(CONFDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(COMPDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/sluiced $(DESTDIR)$(SBINDIR)/sluiced
	install -m 0755 $(BUILD)/sluicectl $(DESTDIR)$(BINDIR)/sluicectl
	for u in systemd/*.service; do \
		sed 's|/usr/local/sbin/sluiced|$(SBINDIR)/sluiced|g' "$$u" \
			>"$(DESTDIR)$(UNITDIR)/$${u##*/}" && \
		chmod 0644 "$(DESTDIR)$(UNITDIR)/$${u##*/}" || exit 1; \
	done
	install -m 0644 systemd/sluice.sysusers $(DESTDIR)$(SYSUSERSDIR)/sluice.conf
	[ -e $(DESTDIR)$(CONFDIR)/example.yaml ] || \
		install -m 0644 conf/example.yaml $(DESTDIR)$(CONFDIR)/example.yaml
	[ -e $(DESTDIR)$(CONFDIR)/sluice.yaml ] || \
		install -m 0644 conf/sluice.yaml $(DESTDIR)$(CONFDIR)/sluice.yaml
	install -m 0644 scripts/completion/sluiced $(DESTDIR)$(COMPDIR)/sluiced
	install -m 0644 scripts/completion/sluicectl $(DESTDIR)$(COMPDIR)/sluicectl
	for m in man1/sluicectl.1 man5/sluice.yaml.5 man8/sluiced.8; do \
		sed '/^\.TH /s/"sluice"/"sluice $(VERSION)"/' "man/$${m#*/}" \
			>"$(DESTDIR)$(MANDIR)/$$m" && chmod 0644 "$(DESTDIR)$(MANDIR)/$$m" || exit 1; \
	done

# The configs in $(CONFDIR) are the user's: they stay.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/sluiced $(DESTDIR)$(BINDIR)/sluicectl \
		$(DESTDIR)$(UNITDIR)/sluice.service $(DESTDIR)$(UNITDIR)/sluice@.service \
		$(DESTDIR)$(SYSUSERSDIR)/sluice.conf \
		$(DESTDIR)$(COMPDIR)/sluiced $(DESTDIR)$(COMPDIR)/sluicectl \
		$(DESTDIR)$(MANDIR)/man1/sluicectl.1 $(DESTDIR)$(MANDIR)/man5/sluice.yaml.5 \
		$(DESTDIR)$(MANDIR)/man8/sluiced.8

# The committed tree (HEAD), so a tarball never carries build output or local edits.
dist:
	git archive --format=tar.gz --prefix=sluice-$(VERSION)/ \
		-o sluice-$(VERSION).tar.gz HEAD
	@echo "sluice-$(VERSION).tar.gz"

# Every shell script: the entry points, the sourced helpers, the bash completions and
# whatever under scripts/ starts with a shell's #!. Settings: .shellcheckrc.
SHELL_SCRIPTS = .ci/run tests/run tests/fuzz/run scripts/completion/sluiced \
                scripts/completion/sluicectl \
                $(wildcard tests/*.sh tests/integration/*.sh tests/helpers/*.sh) \
                $(shell grep -rlE '^\#!.*(/|env )(ba)?sh$$' scripts)

lint:
	clang-format --dry-run --Werror daemon/*.c daemon/*.h tests/unit/*.c tests/fuzz/*.c \
		tests/helpers/*.c scripts/bench/*.c
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem -D_GNU_SOURCE \
		--include=/usr/include/$(shell $(CC) -dumpmachine)/sys/queue.h \
		daemon tests/unit
	shellcheck $(sort $(SHELL_SCRIPTS))

clean:
	rm -rf build daemon/sluiced daemon/sluicectl
