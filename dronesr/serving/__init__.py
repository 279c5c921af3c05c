"""Serving only: the TorchServe glue the handlers in handlers/ share (the rest of dronesr/ is
shared with training and the CLI).

- ``delivery``: Delivery (format, strip_metadata, provenance) and the model settings TorchServe hands a worker;
- ``requests``: a TorchServe request -> images and text parameters;
- ``handler``: ImageHandler, the decode -> validate -> process -> encode loop.
"""
