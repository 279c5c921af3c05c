"""The ``dronesr`` command: photos, folders and drone videos, in process, on the same core code as
the handlers (decode, validate, tile, model, encode). ``dronesr --help`` lists the subcommands."""
