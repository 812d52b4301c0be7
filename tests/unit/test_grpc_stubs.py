"""The committed gRPC stubs are exactly what the proto generates with the installed protoc."""

from __future__ import annotations

from pathlib import Path

from serving.grpc import stubs
from serving.grpc.generated import housing_pb2 as pb


def test_committed_stubs_match_the_proto() -> None:
    assert stubs.stale_stubs() == [], "run: python -m serving.grpc.stubs"


def test_check_reports_a_stub_that_drifted_from_the_proto(tmp_path: Path) -> None:
    stubs.generate(tmp_path)
    grpc_stub = tmp_path / "housing_pb2_grpc.py"
    grpc_stub.write_text(grpc_stub.read_text() + "\n# hand edit\n")
    assert stubs.stale_stubs(tmp_path) == ["housing_pb2_grpc.py"]


def test_generated_stubs_import_relatively_not_as_the_housing_package() -> None:
    text = (stubs.GENERATED_DIR / "housing_pb2_grpc.py").read_text()
    assert "from . import housing_pb2" in text
    assert "from housing.v1" not in text


def test_check_command_exits_zero_when_current(capsys) -> None:
    assert stubs.main(["--check"]) == 0
    assert "stubs match" in capsys.readouterr().out


def test_proto_is_registered_under_its_package_for_reflection() -> None:
    assert pb.DESCRIPTOR.name == "housing/v1/housing.proto"
    assert pb.DESCRIPTOR.package == "housing.v1"
    methods = [m.name for m in pb.DESCRIPTOR.services_by_name["PricePredictor"].methods]
    assert methods == ["Predict", "SubmitFeedback", "GetModel"]
