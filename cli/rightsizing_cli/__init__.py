"""The ``rightsize`` command-line interface."""
