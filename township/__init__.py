"""township-indicators: a township's monthly submissions turned into trusted, published numbers."""

__version__ = "0.1.0"
