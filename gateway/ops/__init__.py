"""Operator surface: CLI, admin API."""
