# The README's two commands, and a plain build.
#   make        build everything into build/ (the program is build/minima)
#   make demo   install missing packages, build, run the main job
#   make test   install missing packages, build, run every test (ctest)
#   make sanitize   the same tests under AddressSanitizer + UBSan (build-asan/)
#   make bench      build the benchmarks (run them from build/)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build

.PHONY: all setup demo test sanitize bench clean

all:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

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

clean:
	rm -rf build build-asan
