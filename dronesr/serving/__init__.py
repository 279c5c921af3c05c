"""Serving only: the TorchServe glue the handlers in handlers/ share (the rest of dronesr/ is
shared with training and the CLI).

- ``settings``: HandlerSettings, the ``handler:`` section of a model-config.yaml;
- ``requests``: a TorchServe request -> images and text parameters;
- ``handler``: ImageHandler, the decode -> validate -> process -> encode loop.
"""
