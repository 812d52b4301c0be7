"""The systems a user would pick instead, serving the same fitted pipeline, for side-by-side runs.

* **Seldon MLServer** 1.7.1 with its scikit-learn runtime (``mlserver-sklearn``), Open Inference
  (V2) protocol with ``content_type: pd`` (one input per column), adaptive batching. It runs in
  its own virtual environment, created here from PyPI on first use and reused afterwards
  (``var/benchmark-peers/``, git-ignored); ``uvloop<0.22`` because later versions crash its
  inference worker at start-up (SeldonIO/MLServer#2286). The pipeline holds project classes
  (``housing.features``), so the project root is on its ``PYTHONPATH``.
* **Default BentoML**: ``benchmarks/peer_bentoml.py``, a ``@bentoml.api(batchable=True)`` method
  with BentoML's defaults, in its own ``bentoml serve`` process from the project's environment.

Both load the champion's pipeline exported with ``joblib`` (:func:`export_champion`), get
``OMP_NUM_THREADS=1`` like the service's ``numeric_threads: 1``, and log nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEERS_HOME = ROOT / "var" / "benchmark-peers"
MLSERVER_MODEL = "housing"
MLSERVER_PATH = f"/v2/models/{MLSERVER_MODEL}/infer"
# The MLServer settings: adaptive batching up to 64 rows or 5 ms.
MLSERVER_MAX_BATCH_SIZE = 64
MLSERVER_MAX_BATCH_TIME_S = 0.005
PEER_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Peer:
    """How to start one peer and talk to it."""

    name: str
    command: list[str]
    environ: dict[str, str]
    predict_path: str
    ready_path: str
    # Request body for a list of records, and prices out of an answer.
    body_format: str  # "houses" (the service's body) or "v2"


def _export_script(model_path: Path, records_path: Path, prices_path: Path) -> str:
    return (
        "import json, joblib\n"
        "from housing.config import load_config\n"
        "from housing.runtime import prepare_process\n"
        "s = load_config(); prepare_process(s, numeric_threads=1)\n"
        "from housing.bundle import load_model\n"
        "from housing.registry import get_champion\n"
        "from housing.records import records_to_frame\n"
        "model = load_model(s, get_champion(s))\n"
        f"joblib.dump(model.pricing.pipeline, {str(model_path)!r})\n"
        f"records = json.load(open({str(records_path)!r}))\n"
        "prices = model.pricing.predict(records_to_frame(records, s)).price\n"
        f"json.dump([float(p) for p in prices], open({str(prices_path)!r}, 'w'))\n"
    )


def export_champion(
    environ: dict[str, str], directory: Path, records: Sequence[dict[str, Any]]
) -> tuple[Path, list[float]]:
    """The champion's pipeline as ``model.joblib`` and its offline prices for ``records``."""
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / "model.joblib"
    records_path = directory / "check-records.json"
    prices_path = directory / "check-prices.json"
    records_path.write_text(json.dumps(list(records)))
    script = _export_script(model_path, records_path, prices_path)
    subprocess.run([sys.executable, "-c", script], env=environ, cwd=ROOT, check=True)
    return model_path, json.loads(prices_path.read_text())


# ----------------------------------------------------------------------------- environments


def _pinned(*names: str) -> list[str]:
    """``name==version`` of packages as installed here: the peer unpickles the same objects."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in names]


def mlserver_requirements() -> list[str]:
    return [
        "mlserver==1.7.1",
        "mlserver-sklearn==1.7.1",
        "uvloop<0.22",
        *_pinned("scikit-learn", "pandas", "numpy", "joblib", "pyyaml", "pydantic"),
    ]


def ensure_venv(name: str, requirements: list[str]) -> Path:
    """A virtual environment with exactly ``requirements``, created once and then reused."""
    venv = PEERS_HOME / f"{name}-venv"
    marker = venv / "benchmark-requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    python = venv / "bin" / "python"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return venv
    print(f"creating {venv} ({', '.join(requirements)}) ...", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    PEERS_HOME.mkdir(parents=True, exist_ok=True)
    uv = shutil.which("uv")
    base = sys._base_executable  # the interpreter, not the project's venv
    if uv:
        subprocess.run([uv, "venv", "--quiet", "--python", base, str(venv)], check=True)
        install = [uv, "pip", "install", "--quiet", "--python", str(python)]
    else:
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        install = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*install, *requirements], check=True)
    marker.write_text(wanted)
    return venv


# ----------------------------------------------------------------------------- peers


def mlserver_peer(
    model_path: Path, work: Path, port: int, grpc_port: int, metrics_port: int
) -> Peer:
    venv = ensure_venv("mlserver", mlserver_requirements())
    models = work / "mlserver"
    model_dir = models / MLSERVER_MODEL
    model_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(model_path, model_dir / "model.joblib")
    (model_dir / "model-settings.json").write_text(
        json.dumps(
            {
                "name": MLSERVER_MODEL,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "max_batch_size": MLSERVER_MAX_BATCH_SIZE,
                "max_batch_time": MLSERVER_MAX_BATCH_TIME_S,
                "parameters": {"uri": "./model.joblib"},
            }
        )
    )
    (models / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": port,
                "grpc_port": grpc_port,
                "metrics_port": metrics_port,
                "debug": False,
            }
        )
    )
    environ = _peer_environ() | {"PYTHONPATH": str(ROOT)}
    return Peer(
        name="Seldon MLServer 1.7.1 (sklearn runtime, adaptive batching 64 / 5 ms)",
        command=[str(venv / "bin" / "mlserver"), "start", str(models)],
        environ=environ,
        predict_path=MLSERVER_PATH,
        ready_path="/v2/health/ready",
        body_format="v2",
    )


def bentoml_peer(model_path: Path, port: int, features: dict[str, tuple[str, bool]]) -> Peer:
    """``features``: name -> ("float" or "str", nullable), the house fields of the peer."""
    environ = _peer_environ() | {
        "PEER_MODEL": str(model_path),
        "PEER_FEATURES": json.dumps(features),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    bentoml = Path(sys.executable).parent / "bentoml"
    return Peer(
        name="BentoML 1.4 default @bentoml.api(batchable=True)",
        command=[
            str(bentoml),
            "serve",
            "benchmarks.peer_bentoml:DefaultBatchable",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        environ=environ,
        predict_path="/predict",
        ready_path="/readyz",
        body_format="houses",
    )


def _peer_environ() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HOUSING_", "BENTOML_"))}
    return clean | PEER_THREADS


# ----------------------------------------------------------------------------- bodies


def v2_body(
    records: Sequence[dict[str, Any]], columns: Sequence[str], categorical: set[str]
) -> dict:
    """Open Inference (V2) request: one input per column, decoded by MLServer into a DataFrame."""
    inputs = []
    for column in columns:
        values = [record.get(column) for record in records]
        if column in categorical:
            inputs.append({"name": column, "shape": [len(values), 1], "datatype": "BYTES",
                           "data": values})  # fmt: skip
        else:
            data = [None if v is None else float(v) for v in values]
            inputs.append({"name": column, "shape": [len(values), 1], "datatype": "FP64",
                           "data": data})  # fmt: skip
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


def request_body(peer_format: str, records: Sequence[dict[str, Any]], columns: Sequence[str],
                 categorical: set[str]) -> str:  # fmt: skip
    if peer_format == "v2":
        return json.dumps(v2_body(records, columns, categorical))
    return json.dumps({"houses": list(records)})


def answer_prices(peer_format: str, answer: Any) -> list[float]:
    if peer_format == "v2":
        [output] = answer["outputs"]
        return [float(v) for v in output["data"]]
    if answer and isinstance(answer[0], dict):
        return [float(item["price"]) for item in answer]
    return [float(v) for v in answer]


def price_mismatches(expected: Sequence[float], answered: Sequence[float], rtol: float) -> int:
    """How many answered prices differ from the offline ones by more than ``rtol`` (relative)."""
    if len(expected) != len(answered):
        return max(len(expected), len(answered))
    return sum(
        1
        for want, got in zip(expected, answered, strict=True)
        if abs(got - want) > rtol * abs(want)
    )
