"""Tracks of ships and aircraft: feeds, screening for close approaches, alerts."""
