# sluice: build, run the demo, test, benchmark, install.
#   make            build daemon/sluiced (and daemon/sluicectl when present)
#   make run        install missing dependencies, build, run conf/demo.yaml
#   make check      install missing dependencies, unit + integration tests,
#                   then the same suite under ASan+UBSan (SANITIZE=1)
#   make bench      scripts/bench: sluice side by side with its peers
#   make SANITIZE=1 build with AddressSanitizer and UndefinedBehaviorSanitizer

PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
PKGS      = libevent yaml-0.1
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

ifeq ($(SANITIZE),1)
BUILD    ?= build/san
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
else
BUILD    ?= build/release
endif

DAEMON_SRCS := $(filter-out daemon/sluicectl.c,$(wildcard daemon/*.c))
LIB_SRCS    := $(filter-out daemon/sluiced.c,$(DAEMON_SRCS))
DAEMON_OBJS := $(DAEMON_SRCS:daemon/%.c=$(BUILD)/%.o)
LIB_OBJS    := $(LIB_SRCS:daemon/%.c=$(BUILD)/%.o)
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(HELPER_SRCS:tests/helpers/%.c=$(BUILD)/helpers/%)

.PHONY: all run check test-build deps bench install clean lint
all: $(BUILD)/sluiced $(if $(wildcard daemon/sluicectl.c),$(BUILD)/sluicectl)
ifneq ($(SANITIZE),1)
	@ln -sf ../$(BUILD)/sluiced daemon/sluiced
endif

$(BUILD)/%.o: daemon/%.c $(wildcard daemon/*.h) | $(BUILD)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/sluiced: $(DAEMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/sluicectl: $(BUILD)/sluicectl.o $(BUILD)/util.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(BUILD)
	$(CC) $(CFLAGS) -Idaemon $(shell pkg-config --cflags check) $(LDFLAGS) -o $@ $< $(LIB_OBJS) \
		$(shell pkg-config --libs check) $(LDLIBS)

$(BUILD)/helpers/%: tests/helpers/%.c | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD):
	@mkdir -p $(BUILD)/tests $(BUILD)/helpers

test-build: all $(UNIT_BINS) $(HELPER_BINS)

deps:
	@scripts/install-deps

run: deps
	@$(MAKE) --no-print-directory all
	./daemon/sluiced -c conf/demo.yaml

check: deps
	@$(MAKE) --no-print-directory test-build
	@$(MAKE) --no-print-directory SANITIZE=1 test-build
	@tests/run build/release build/san

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench/run

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)/etc/sluice
	install -m 0755 $(BUILD)/sluiced $(DESTDIR)$(PREFIX)/sbin/sluiced
	if [ -f $(BUILD)/sluicectl ]; then install -m 0755 $(BUILD)/sluicectl $(DESTDIR)$(PREFIX)/bin/sluicectl; fi
	install -m 0644 conf/demo.yaml $(DESTDIR)/etc/sluice/example.yaml.sample
	if ls systemd/*.service >/dev/null 2>&1; then \
		install -d $(DESTDIR)/lib/systemd/system && \
		install -m 0644 systemd/*.service $(DESTDIR)/lib/systemd/system/; fi

lint:
	clang-format --dry-run --Werror daemon/*.c daemon/*.h tests/unit/*.c
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem -D_GNU_SOURCE daemon tests/unit

clean:
	rm -rf build daemon/sluiced daemon/sluicectl
