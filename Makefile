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
#   make install         install under PREFIX (/usr/local), into DESTDIR if set
#   make uninstall       remove what the last make install put there
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

PREFIX  ?= /usr/local
DESTDIR ?=

FUZZ_SECONDS ?= 60
QUICK        ?= 0
DURATION     ?= 300

.PHONY: all build deps test demo sim fuzz bench soak asan format format-check clean install uninstall

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

# The prefix is a configure-time setting (units and liblull.pc name it),
# so install reconfigures with it; every file installed is listed in
# $(BUILD_DIR)/install_manifest.txt, which uninstall reads.
install: build
	cmake -S . -B $(BUILD_DIR) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR)

uninstall:
	@test -f $(BUILD_DIR)/install_manifest.txt || \
		{ echo "uninstall: no $(BUILD_DIR)/install_manifest.txt: nothing installed from here" >&2; exit 1; }
	@while IFS= read -r f || [ -n "$$f" ]; do rm -f -- "$(DESTDIR)$$f" && echo "removed $(DESTDIR)$$f"; done \
		<$(BUILD_DIR)/install_manifest.txt

asan:
	$(MAKE) test SANITIZE=1

format:
	clang-format -i $(C_SOURCES)

format-check:
	clang-format --dry-run -Werror $(C_SOURCES)

clean:
	rm -rf build build-asan build-fuzz
