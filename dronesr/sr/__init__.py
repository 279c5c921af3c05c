"""Super-resolution: the network run tiled (upscaler), any SR weights file (weights), the
fidelity/restore blends (blend), an opened model (resolver), restore=auto (restoration), regions,
the invention map, and the plan of one enlargement (plan)."""
