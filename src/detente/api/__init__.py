"""The node's HTTP API (v1): peer endpoints and operator endpoints."""

from detente.api.app import create_app

__all__ = ["create_app"]
