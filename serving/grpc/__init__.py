"""gRPC API of the housing-price service, served from inside the Bento service workers.

The proto lives in ``proto/housing/v1/housing.proto``; generated stubs are committed under
``serving/grpc/generated`` and checked against the proto by ``python -m serving.grpc.stubs
--check`` (also a unit test). See docs/grpc.md for why this is not BentoML's own gRPC.
"""
