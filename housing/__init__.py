"""Shared core of the housing-price service: configuration, record schema, model artifact, registry."""
