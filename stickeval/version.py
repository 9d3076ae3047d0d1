"""The version of stickeval, recorded in every results.json, training state and export."""

__version__ = "0.1.0"
