"""Madoguchi (窓口): an omnichannel contact center platform."""

from madoguchi.native import check as _check_native

__version__ = "0.1.0"

# A compiled Router left behind by `make compile` must not outlive an edit of its source.
_check_native()
