# The commands people type.  CMake + CTest do the work underneath.
#
#   make                 release build in build/
#   make test            build and run every test (CTest)
#   make demo            a tunnel on loopback with generated keys (scripts/demo.sh)
#   make sim             replay traffic traces under rekey policies (scripts/sim.sh)
#   make fuzz            libFuzzer on every target for FUZZ_SECONDS each (scripts/fuzz.sh)
#   make bench           lull against spiped, stunnel, ssh -L on loopback (QUICK=1: ~1 min)
#   make soak            many bursty clients for DURATION seconds (scripts/soak.sh)
#   make test SANITIZE=1 the same under ASan + UBSan, in build-asan/
#   make asan            shorthand for the line above
#   make format          reformat our C with .clang-format
#   make format-check    fail if any C file is not formatted
#   make clean           remove build directories

SANITIZE ?= 0
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SANITIZE),1)
BUILD_DIR  := build-asan
CMAKE_ARGS := -DCMAKE_BUILD_TYPE=Debug -DLULL_SANITIZE=ON
else
BUILD_DIR  := build
CMAKE_ARGS := -DCMAKE_BUILD_TYPE=Release
endif

C_SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find include src tests -name '*.[ch]')

FUZZ_SECONDS ?= 60
QUICK        ?= 0
DURATION     ?= 300

.PHONY: all build deps test demo sim fuzz bench soak asan format format-check clean

all: build

deps:
	@scripts/deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) $(CMAKE_ARGS)

build: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

demo: build
	scripts/demo.sh $(BUILD_DIR)

sim: build
	scripts/sim.sh $(BUILD_DIR)

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

bench: build
	QUICK=$(QUICK) scripts/bench.sh $(BUILD_DIR)

soak: build
	DURATION=$(DURATION) scripts/soak.sh $(BUILD_DIR)

asan:
	$(MAKE) test SANITIZE=1

format:
	clang-format -i $(C_SOURCES)

format-check:
	clang-format --dry-run -Werror $(C_SOURCES)

clean:
	rm -rf build build-asan build-fuzz
