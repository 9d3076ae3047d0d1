"""stickeval: evaluation suite, benchmark and model-zoo CLI for Stick-Gen text-to-motion models."""

__version__ = "0.1.0"
