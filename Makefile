# dgrid - plain Makefile with pkg-config.
#
#   make            build ./dgrid (into $(BUILD), default build/)
#   make test       unit + integration tests; ends with "N passed, N failed"
#   make asan       the same tests under AddressSanitizer + UBSan
#   make fuzz       build the libFuzzer targets (clang) and run each briefly
#   make bench      benchmarks (ratios against a baseline measured in the same run)
#   make soak       10-minute soak: descriptors, packs, memory, step time stay flat
#   make chaos      chaos runs (heartbeats, then leases): 6 workers, 300 tasks, kills, outages, refusals, skew
#   make demo       a complete local grid on an embedded bare repository
#   make install    PREFIX=/usr/local DESTDIR=

BUILD   ?= build
PREFIX  ?= /usr/local
CC      ?= cc
PKGS     = libgit2 jansson libmicrohttpd libseccomp libsodium
WARN     = -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wmissing-prototypes \
           -Wstrict-prototypes -Wvla -Wwrite-strings -Wno-format-truncation
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c17 $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) $(shell pkg-config --cflags $(PKGS)) -MMD -MP
LIBS     = $(shell pkg-config --libs $(PKGS)) -lpthread -lm
LDFLAGS ?=

LIB_SRC  = $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ = $(BUILD)/src/main.o
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC = $(wildcard tests/tools/*.c)
TOOL_BIN = $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all test unit asan fuzz bench demo install clean soak chaos image
all: $(BUILD)/dgrid dgrid

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libdgrid.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/dgrid: $(MAIN_OBJ) $(BUILD)/libdgrid.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# ./dgrid is what the README and the scripts call.
dgrid: $(BUILD)/dgrid
	@if [ "$(BUILD)" = build ]; then ln -sf $(BUILD)/dgrid dgrid; fi

$(BUILD)/tests/test_%: tests/unit/test_%.c $(BUILD)/libdgrid.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(BUILD)/libdgrid.a $(LIBS) -lcmocka

# helper programs the integration tests and benchmarks drive
$(BUILD)/tests/tools/%: tests/tools/%.c $(BUILD)/libdgrid.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(BUILD)/libdgrid.a $(LIBS)

unit: $(UNIT_BIN)

test: $(BUILD)/dgrid $(UNIT_BIN) $(TOOL_BIN)
	@BUILD=$(BUILD) DGRID=$(CURDIR)/$(BUILD)/dgrid tests/run

# Full malloc stacks (fast_unwind_on_malloc=0): libgit2 is built without
# frame pointers, so the fast unwinder stops inside it and the suppressions
# in tests/lsan.supp could not see which libgit2 function leaked.
asan:
	ASAN_OPTIONS=fast_unwind_on_malloc=0 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

fuzz:
	@tests/fuzz/run $(BUILD) "$(FUZZ_SRC)" "$(LIB_SRC)"

bench: $(BUILD)/dgrid $(TOOL_BIN)
	@BUILD=$(BUILD) DGRID=$(CURDIR)/$(BUILD)/dgrid bench/run

# The long versions of t0700 and t0710 (make test runs their short versions);
# sizes can be overridden: make soak SOAK_SECONDS=1200.
SOAK_SECONDS ?= 600
CHAOS_TASKS ?= 300
CHAOS_WORKERS ?= 6
CHAOS_SECONDS ?= 300
CHAOS_DRAIN ?= 300
soak: $(BUILD)/dgrid
	@SOAK_SECONDS=$(SOAK_SECONDS) BUILD=$(BUILD) DGRID=$(CURDIR)/$(BUILD)/dgrid tests/run t0700

# both protocols: heartbeats (t0710) and leases (t0711)
chaos: $(BUILD)/dgrid
	@for t in t0710 t0711; do \
		CHAOS_TASKS=$(CHAOS_TASKS) CHAOS_WORKERS=$(CHAOS_WORKERS) CHAOS_SECONDS=$(CHAOS_SECONDS) \
		CHAOS_DRAIN=$(CHAOS_DRAIN) BUILD=$(BUILD) DGRID=$(CURDIR)/$(BUILD)/dgrid tests/run $$t || exit 1; \
	done

demo: $(BUILD)/dgrid
	$(BUILD)/dgrid demo

# The worker image (dgrid:local) and docker-compose.yml's git daemon image
# (dgrid-gitd:local) from the Dockerfile. --network host: apt inside the
# build uses this machine's network and mirror (an engine started with
# --bridge=none, as the tests do, has no other). The build stage is tagged
# too, so that its layers (the slow install-deps) stay referenced and an
# image prune removes only stale builds.
IMAGE ?= dgrid:local
IMAGE_LABELS = --build-arg DGRID_VERSION=$(shell sed -n 's/^\#define DG_VERSION "\(.*\)"/\1/p' src/version.h) \
	       --build-arg DGRID_REVISION=$(shell git rev-parse HEAD 2>/dev/null || echo unknown)
image:
	docker build --network host --target build -t dgrid-build:local .
	docker build --network host --target runtime $(IMAGE_LABELS) -t $(IMAGE) .
	docker build --network host --target gitd -t dgrid-gitd:local .

install: $(BUILD)/dgrid
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/dgrid/examples
	install -m 0755 $(BUILD)/dgrid $(DESTDIR)$(PREFIX)/bin/dgrid
	install -m 0644 doc/dgrid.1 $(DESTDIR)$(PREFIX)/share/man/man1/dgrid.1
	install -m 0644 examples/*.json examples/README.md $(DESTDIR)$(PREFIX)/share/dgrid/examples/

clean:
	rm -rf build build-asan build-fuzz dgrid

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
