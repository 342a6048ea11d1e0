"""Détente."""
