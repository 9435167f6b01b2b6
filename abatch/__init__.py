"""abatch: AWS Batch for one machine."""

__version__ = "0.1.0"
