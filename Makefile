# The README's two commands, and a plain build.
#   make        build everything into build/: the program build/minima, the
#               libraries build/libminima.a and build/libminima.so.0
#   make install    install the program, the libraries, the headers and
#               minima.pc under PREFIX (default /usr/local; DESTDIR honoured)
#   make demo   install missing packages, build, run the main job
#   make test   install missing packages, build, run every test (ctest)
#   make sanitize   the same tests under AddressSanitizer + UBSan (build-asan/)
#   make bench      build the benchmarks (run them from build/)
#   make fuzz       build the libFuzzer harnesses (clang, build-fuzz/) and run each
#                   FUZZ_SECONDS (default 60); FUZZ=name runs one (docs/fuzzing.md)
#   make fuzz-merge add the new inputs fuzz found to fuzz/corpus/ (minimized)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
PREFIX ?= /usr/local

.PHONY: all install setup demo test sanitize bench clean fuzz fuzz-build fuzz-merge

all:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The prefix is recorded in the build (GNUInstallDirs picks the library
# directory from it); cmake --install writes minima.pc for it.
install:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

setup:
	@scripts/setup.sh

demo: setup all
	$(BUILD)/minima demo

test: setup all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE slow

sanitize: setup
	@cmake -S . -B build-asan -DMINIMA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) -LE slow

bench: all

# Fuzzing: each harness fuzz/fuzz_<name>.c for FUZZ_SECONDS, one at a time.
FUZZ_SECONDS ?= 60
FUZZ ?=
FUZZ_CC ?= clang

fuzz-build:
	@cmake -S . -B build-fuzz -DMINIMA_FUZZ=ON -DCMAKE_C_COMPILER=$(FUZZ_CC) \
	    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-fuzz --target fuzzers -j $(JOBS)

fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ)

fuzz-merge: fuzz-build
	fuzz/run.sh --merge $(FUZZ)

clean:
	rm -rf build build-asan build-fuzz
