# Source lists, one per library half. Globbing is avoided so that a new file is a visible change.
set(FXNN_BASE_SOURCES
  src/core/format.cpp
  src/core/rounding.cpp
  src/core/quantize_kernels.cpp
)
set(FXNN_TORCH_SOURCES
)
set(FXNN_CLI_SOURCES
  src/cli/main.cpp
)
