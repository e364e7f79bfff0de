"""Madoguchi (窓口): an omnichannel contact center platform."""

__version__ = "0.1.0"
