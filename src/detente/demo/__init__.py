"""The story `make demo` tells (shared/scenario.md)."""
