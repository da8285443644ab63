# citybrain — build, test and demo.
#
#   make          build build/citybrain
#   make test     install missing packages, build, run every test: the
#                 layer check (no SQL outside src/store/), unit tests (gcc
#                 and ASan+UBSan), fuzz corpora, the integration suite
#                 against the release and the ASan+UBSan server, and the
#                 browser tests of the screens (chromium)
#   make demo     install missing packages, build, run the simulated district
#   make fuzz     run each libFuzzer target for FUZZ_SECONDS (default 60)
#   make bench    run every benchmark under bench/ (an hour or more;
#                 BENCH_LARGE=0: without the 2,000,000-household and
#                 side-by-side stores, minutes)
#   make readme-shots  the README's pictures, from the browser tests on the
#                 demo's district (docs/img/; minutes)
#   make format   reformat the C sources with clang-format
#
# Every C source under src/<module>/ is part of libcitybrain; src/main.c is
# the program.  tests/unit/test_<name>.c becomes one cmocka binary each, and
# fuzz/fuzz_<name>.c one libFuzzer target replaying fuzz/corpus/<name>/.

CC       ?= gcc
CLANG    ?= clang
PKGS      = libmicrohttpd jansson sqlite3 libcrypto zlib
CFLAGS_W  = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter -Werror
CPPFLAGS  = -Isrc -D_GNU_SOURCE
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -pthread $(CFLAGS_W)
LDLIBS    = -lmicrohttpd -ljansson -lsqlite3 -lcrypto -lz -lcurl -lm -lpthread

# Data files under etc/ that ship inside the binary: each becomes a C array
# in build/gen/ (scripts/embed.sh), compiled into the library.
GEN_SRC  := build/gen/indic_default_set.c
LIB_SRC  := $(sort $(wildcard src/*/*.c)) $(GEN_SRC)
LIB_OBJ  := $(LIB_SRC:%.c=build/obj/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
ASAN_OBJ := $(LIB_SRC:%.c=build/asan/%.o)
ASAN_UNIT:= $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)
SANFLAGS  = -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer -g -O1

.PHONY: all deps test unit asan-unit fuzz-replay integration integration-asan \
        layers browser readme-shots format format-check demo fuzz bench clean

all: build/citybrain web/dist/index.html

# The UI, served at / from web_dir (default web/dist).
web/dist/index.html: $(wildcard web/src/*) web/build.mjs web/package.json
	@scripts/web-build.sh

build/gen/indic_default_set.c: etc/indicators.default.json scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh indic_default_set $< > $@.tmp && mv $@.tmp $@

build/obj/%.o: %.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# The built-in holiday calendar is the file itself (src/workcal/workcal_cn.c).
build/obj/src/workcal/workcal_cn.o build/asan/src/workcal/workcal_cn.o: \
    etc/holidays-cn.txt

build/libcitybrain.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/citybrain: build/obj/src/main.o build/libcitybrain.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/tests/%: tests/unit/%.c build/libcitybrain.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -o $@ $^ -lcmocka $(LDLIBS)

# The ASan+UBSan build: the library, the unit tests and the fuzz targets.
build/asan/%.o: %.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) -std=c11 -pthread $(SANFLAGS) -c $< -o $@

build/asan/libcitybrain.a: $(ASAN_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/asan/citybrain: build/asan/src/main.o build/asan/libcitybrain.a
	$(CLANG) -std=c11 -pthread $(SANFLAGS) -o $@ $^ $(LDLIBS)

build/asan/tests/%: tests/unit/%.c build/asan/libcitybrain.a
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) -std=c11 -pthread $(SANFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

build/fuzz/%: fuzz/%.c build/asan/libcitybrain.a
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) -std=c11 -pthread $(SANFLAGS) -fsanitize=fuzzer \
	    -o $@ $^ $(LDLIBS)

deps:
	@scripts/deps.sh

unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

asan-unit: $(ASAN_UNIT)
	@scripts/run-unit.sh $(ASAN_UNIT)

fuzz-replay: $(FUZZ_BIN)
	@scripts/fuzz-replay.sh $(FUZZ_BIN)

integration: build/citybrain web/dist/index.html
	@scripts/run-integration.sh

# The screens in Debian's chromium, headless (screenshots: build/browser/).
browser: build/citybrain web/dist/index.html
	@scripts/run-browser.sh

readme-shots: build/citybrain web/dist/index.html
	@scripts/readme-shots.sh

# The same integration suite against the ASan+UBSan server: any sanitizer
# report in the server's stderr fails the test.
integration-asan: build/asan/citybrain web/dist/index.html
	@CITYBRAIN_BIN=build/asan/citybrain CITYBRAIN_SANITIZED=1 \
	    scripts/run-integration.sh

# No SQL or database handle outside the storage layer (src/store/), and
# no hand-typed JSON keys: output goes through src/util/jsonw.h.
layers:
	@scripts/check-layers.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h') && \
	    echo "format: ok"

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory format-check layers unit asan-unit \
	    fuzz-replay integration integration-asan browser
	@echo "make test: all suites passed"

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

FUZZ_SECONDS ?= 60
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$${f##*/fuzz_}; mkdir -p fuzz/corpus/$$n; \
	    $$f -max_total_time=$(FUZZ_SECONDS) fuzz/corpus/$$n || exit 1; done

# The store-scale benchmarks (2,000,000 households, the side-by-side
# workload) take 5 to 30 minutes each and gigabytes in /tmp: BENCH_LARGE=0
# leaves them out.
BENCH_LARGE ?= 1

bench: build/citybrain
	@bench/ingest
	@bench/rollup
	@bench/simulate
	@bench/scene
	@bench/detect
	@bench/map_cluster
	@bench/place_event
	@node bench/map_clusters_http.mjs
	@bench/abuse
	@bench/indicators
	@bench/storage
ifneq ($(BENCH_LARGE),0)
	@bench/storage_sidebyside
	@bench/read_latency
	@bench/read_hourly
	@bench/rss_backfill
endif

clean:
	rm -rf build
