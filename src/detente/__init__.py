"""Détente: operate arms-control and risk-reduction agreements over a tamper-evident record."""

__version__ = "0.1.0"
__all__ = ["__version__"]
