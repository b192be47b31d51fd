"""Wiring: config, the platform registry, the collect loop."""
