"""Generate the committed Python stubs from the proto, or check that they are current.

Stubs are committed so that the service and its container need no protoc at run time (grpcio-tools
is a dev dependency only). protoc names the generated import after the proto's path
(``from housing.v1 import housing_pb2``), which would collide with this project's ``housing``
package, so the one import line is rewritten to a relative import; the rewrite is part of
generation, so the check compares exactly what would be committed.

    python -m serving.grpc.stubs           # regenerate serving/grpc/generated/
    python -m serving.grpc.stubs --check   # exit 1 if the committed stubs differ from the proto
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from housing import exit_codes

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "proto"
PROTO_FILE = Path("housing/v1/housing.proto")
GENERATED_DIR = Path(__file__).resolve().parent / "generated"
STUB_NAMES = ("housing_pb2.py", "housing_pb2.pyi", "housing_pb2_grpc.py")
_PROTOC_IMPORT = "from housing.v1 import housing_pb2 as"
_RELATIVE_IMPORT = "from . import housing_pb2 as"


class StubError(RuntimeError):
    """protoc failed, or the committed stubs do not match the proto."""


def generate(output_dir: Path) -> list[Path]:
    """Run protoc (from grpcio-tools) on the proto and write the stubs flat into ``output_dir``."""
    try:
        import grpc_tools
        from grpc_tools import protoc
    except ImportError as exc:  # pragma: no cover - grpcio-tools is in the dev group
        raise StubError("grpcio-tools is not installed (dev dependency group)") from exc
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as raw:
        staging = Path(raw)
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{PROTO_ROOT}",
                f"-I{well_known}",
                f"--python_out={staging}",
                f"--pyi_out={staging}",
                f"--grpc_python_out={staging}",
                str(PROTO_ROOT / PROTO_FILE),
            ]
        )
        if code != 0:
            raise StubError(f"protoc failed on {PROTO_FILE} (exit {code})")
        output_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name in STUB_NAMES:
            text = (staging / PROTO_FILE.parent / name).read_text(encoding="utf-8")
            text = text.replace(_PROTOC_IMPORT, _RELATIVE_IMPORT)
            target = output_dir / name
            target.write_text(text, encoding="utf-8")
            written.append(target)
    return written


def stale_stubs(committed_dir: Path = GENERATED_DIR) -> list[str]:
    """Names of committed stubs that differ from (or are missing against) a fresh generation."""
    with tempfile.TemporaryDirectory() as raw:
        fresh_dir = Path(raw)
        generate(fresh_dir)
        stale = []
        for name in STUB_NAMES:
            committed = committed_dir / name
            fresh = (fresh_dir / name).read_bytes()
            if not committed.exists() or committed.read_bytes() != fresh:
                stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_stubs()
            if stale:
                return exit_codes.script_failure(
                    f"stubs out of date with {PROTO_FILE}: {', '.join(stale)}; "
                    "run python -m serving.grpc.stubs",
                    exit_codes.FAILURE,
                )
            print(f"stubs match {PROTO_FILE}")
            return exit_codes.HEALTHY
        for path in generate(GENERATED_DIR):
            print(f"wrote {path.relative_to(REPO_ROOT)}")
    except StubError as exc:
        return exit_codes.script_failure(exc, exit_codes.FAILURE)
    return exit_codes.HEALTHY


if __name__ == "__main__":
    sys.exit(main())
