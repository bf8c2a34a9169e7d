"""AuraLink AI Core: the shared library of every Lambda function."""

__version__ = "0.1.0"
