#!/usr/bin/env bash
# make fuzz: every libFuzzer target builds and survives FUZZ_SECONDS of fuzzing
# (8 s each here: a smoke run; `make fuzz` fuzzes 20 s each, or longer).
. "$(dirname "$0")/lib.sh"

probe=$T/probe.c
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe"
if ! command -v clang >/dev/null 2>&1; then
	skip "fuzz targets (clang is not installed)"
elif ! clang -fsanitize=fuzzer,address,undefined -o "$T/probe" "$probe" >/dev/null 2>&1; then
	skip "fuzz targets (no libFuzzer runtime: install libclang-rt-14-dev)"
else
	# a clean make: the outer one (make test, make asan) must not leak its
	# BUILD or CFLAGS into the fuzz build, which always goes to build-fuzz/
	if env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u BUILD -u CFLAGS -u EXTRA_CFLAGS \
		make -C "$DGRID_SRC" --no-print-directory fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-8} >"$T/fuzz.log" 2>&1; then
		ok "fuzz targets build and run without a crash"
		sed 's/^/# /' "$T/fuzz.log" | grep '^# fuzz:'
	else
		fail "fuzz targets build and run without a crash"
		tail -60 "$T/fuzz.log" | sed 's/^/# /'
	fi
fi
finish
