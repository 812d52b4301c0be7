"""Shared core: configuration, record schema, model artifact, registry, log store."""
