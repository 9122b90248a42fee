"""The ``itp`` command."""
