# filterd - top-level Makefile
#
# One Makefile; each folder adds its sources and libraries in its module.mk.
#   make            build build/filterd and build/filterctl
#   make run        install missing Debian packages, build, run filterd in the
#                   foreground with etc/filterd.conf and a state dir in ./var
#   make check      install, build, run every test (unit, unit under
#                   ASan+UBSan, fuzz seed replay, e2e); ends with
#                   "N passed, N failed"
#   make bench | fuzz | soak | eval   the long runs
#
# BUILD=dir selects the object folder; SANITIZE=address,undefined adds
# sanitizers (make check does both builds).

BUILD    ?= build
CC       ?= cc
CFLAGS   ?= -O2 -g
XCFLAGS  := -std=c17 -D_GNU_SOURCE
XCFLAGS  += -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	    -Wmissing-prototypes -Wformat=2 -Wvla -Wno-format-nonliteral
XCFLAGS  += -I. -MMD -MP
LDFLAGS  ?=
XLDFLAGS :=
LIBS     :=

ifneq ($(SANITIZE),)
XCFLAGS  += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer
XLDFLAGS += -fsanitize=$(SANITIZE)
endif

# Debian packages the build, the tests and the benches need. spamd (its own
# package since 4.0.1-1~deb12u1) is only the peer the benches and
# tests/e2e/sa_parity.sh compare with: deps stops the service it enables,
# which would hold 127.0.0.1:783, the port `make run` gives filterd's door.
# (npm counts as present when an npm command exists: NodeSource's nodejs
# bundles it and conflicts with Debian's npm package.)
DEBS := build-essential pkg-config clang libevent-dev libpcre2-dev \
	libc-ares-dev libdb-dev libcmocka-dev libssl-dev libidn2-dev \
	libpsl-dev publicsuffix libhiredis-dev libmilter-dev zlib1g-dev \
	postfix swaks redis-server knot knot-dnsutils spamc spamd spamassassin \
	bogofilter miltertest python3-dkim python3-authres python3-yaml nodejs npm python3 procps \
	opendkim opendkim-tools rspamd \
	libgnutls-dane0 libmariadb3 libpq5 libspf2-2 libldap-2.5-0 libidn12 \
	libnsl2 libxml2-dev libhyperscan-dev

SRCS  :=
MAINS := filterd/main.c filterd/filterctl.c

include util/module.mk mail/module.mk rules/module.mk bayes/module.mk \
	plugins/module.mk filterd/module.mk

LIBSRCS  := $(filter-out $(MAINS),$(SRCS))
LIBOBJS  := $(LIBSRCS:%.c=$(BUILD)/obj/%.o)
LIBA     := $(BUILD)/libfilterd.a

UNIT_SRCS  := $(wildcard tests/unit/*_test.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS  := $(wildcard tests/fuzz/*_fuzz.c)
BENCH_SRCS := $(wildcard tests/bench/*_bench.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%_bench.c=$(BUILD)/bench/%)

BINS := $(if $(wildcard filterd/main.c),$(BUILD)/filterd) \
	$(if $(wildcard filterd/filterctl.c),$(BUILD)/filterctl)

.SECONDARY:
.PHONY: all deps run check unit unit-asan fuzz-replay fuzz bench soak eval \
	e2e clean format

REPLAY_BINS := $(FUZZ_SRCS:tests/fuzz/%_fuzz.c=$(BUILD)/fuzz/%_replay)

all: $(BINS) $(UNIT_BINS) $(REPLAY_BINS) $(BENCH_BINS)

# Bench programs: tests/bench/<name>_bench.c -> build/bench/<name>.
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%_bench.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(XLDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

$(LIBA): $(LIBOBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/filterd: $(BUILD)/obj/filterd/main.o $(LIBA)
	$(CC) $(LDFLAGS) $(XLDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/filterctl: $(BUILD)/obj/filterd/filterctl.o $(LIBA)
	$(CC) $(LDFLAGS) $(XLDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(XLDFLAGS) -o $@ $^ $(LIBS) -lcmocka

# Fuzz targets replayed over their seeds and crashers without libFuzzer.
$(BUILD)/fuzz/%_replay: $(BUILD)/obj/tests/fuzz/%_fuzz.o \
    $(BUILD)/obj/tests/fuzz/replay_main.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(XLDFLAGS) -o $@ $^ $(LIBS)

# Fuzz targets: clang libFuzzer + ASan/UBSan, in their own build dir.
FUZZ_BUILD := build-fuzz
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
fuzz-bins:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link" \
	    SANITIZE=address,undefined $(FUZZ_BUILD)/libfilterd.a
	@for s in $(FUZZ_SRCS); do \
	  n=$$(basename $$s .c); \
	  $(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link" \
	    SANITIZE=address,undefined $(FUZZ_BUILD)/obj/tests/fuzz/$$n.o \
	  && clang -fsanitize=fuzzer,address,undefined -o $(FUZZ_BUILD)/$$n \
	    $(FUZZ_BUILD)/obj/tests/fuzz/$$n.o $(FUZZ_BUILD)/libfilterd.a $(LIBS) \
	  || exit 1; \
	done

deps:
	@missing=""; for p in $(DEBS); do \
	  case $$p in npm) command -v npm >/dev/null && continue ;; esac; \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	    || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  echo "postfix postfix/main_mailer_type select No configuration" \
	    | debconf-set-selections; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing || exit 1; \
	  case " $$missing " in *" spamd "*) \
	    if command -v systemctl >/dev/null; then \
	      systemctl disable --now spamd.service >/dev/null 2>&1 || :; fi ;; \
	  esac; \
	fi

# Only the two programs: a test that does not build must not stop a run.
run: deps $(BINS)
	@mkdir -p var
	$(BUILD)/filterctl -c etc/filterd.conf compile -q || true
	$(BUILD)/filterd -f -c etc/filterd.conf

unit: all
unit-asan:
	$(MAKE) BUILD=build-asan SANITIZE=address,undefined CFLAGS="-O1 -g" all

check: deps all unit-asan
	tests/run.sh

fuzz: fuzz-bins
	tests/fuzz/run.sh long

bench: deps all
	tests/bench/run.sh

soak: deps all
	tests/soak/run.sh

eval: deps all
	corpus/eval.sh

clean:
	rm -rf build build-asan build-fuzz

format:
	clang-format -i $(SRCS) $(wildcard */*.h) $(UNIT_SRCS) $(FUZZ_SRCS)

# make install / man / deb / deb-test (.notes/production.md)
include dist/install.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
