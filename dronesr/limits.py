"""Default sizes every entry point bounds (the handlers' model-config.yaml may set others; the CLI
shows these in ``--help`` and takes others as options)."""

MAX_INPUT_PIXELS = 4_000_000  # decoded image, checked before decoding
MAX_REGION_FRAME_PIXELS = 20_000_000  # a frame sent with a region (its result is bounded): a 20 MP drone photo
MAX_OUTPUT_PIXELS = 36_000_000  # result of super-resolution (x4 of 1920x1080 is 33.2 MP)
MAX_ENSEMBLE_PIXELS = 1_000_000  # input (or region) of an SR request with ensemble=on: its 8 passes cost what an 8 MP input does
STYLE_MAX_SIDE = 1024  # style transfer: longer images are scaled down to this side first
