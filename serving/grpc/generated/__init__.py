"""Stubs generated from proto/housing/v1/housing.proto by ``python -m serving.grpc.stubs``.

Do not edit: regenerate, and ``python -m serving.grpc.stubs --check`` fails until you do.
"""
