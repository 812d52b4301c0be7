"""The baseline: a server in the style of the original challenge, for the serving benchmark.

FastAPI, one record per request, a synchronous ``predict`` on a one-row DataFrame, and the
prediction appended to a CSV file under a lock -- no batching, no database. It scores the same
model (the champion's :class:`~housing.pricing.PricingModel`) as the Bento service, so the
benchmark compares serving designs, not models.

    python -m benchmarks.challenge_baseline --port 3100 --log var/baseline.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from housing.config import Settings, load_config
from housing.runtime import prepare_process


def create_app(settings: Settings, log_path: Path) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from housing.bundle import load_model
    from housing.records import records_to_frame
    from housing.registry import get_champion

    ref = get_champion(settings)
    if ref is None:
        raise SystemExit("no champion model: run `housing train` first")
    model = load_model(settings, ref)
    version = str(model.version)
    lock = threading.Lock()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    app = FastAPI(title="challenge-style baseline")

    @app.post("/predict")
    def predict(body: dict[str, Any]) -> JSONResponse:
        houses = body.get("houses") or []
        if len(houses) != 1:
            return JSONResponse({"error": "exactly one record per request"}, status_code=400)
        record = houses[0]
        estimate = model.pricing.predict(records_to_frame([record], settings))
        answer = {
            "prediction_id": str(uuid.uuid4()),
            "price": float(estimate.price[0]),
            "price_low": float(estimate.low[0]),
            "price_high": float(estimate.high[0]),
            "model_version": version,
        }
        with lock, log_path.open("a", newline="") as handle:
            csv.writer(handle).writerow(
                [answer["prediction_id"], datetime.now(UTC).isoformat(), version,
                 json.dumps(record), answer["price"]]
            )  # fmt: skip
        return JSONResponse([answer])

    @app.get("/readyz")
    def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument("--log", type=Path, required=True, help="CSV file predictions go to")
    args = parser.parse_args(argv)
    settings = load_config(args.config)
    prepare_process(settings, numeric_threads=settings.service.numeric_threads)
    import uvicorn

    uvicorn.run(
        create_app(settings, args.log), host=args.host, port=args.port, log_level="warning",
        access_log=False,
    )  # fmt: skip


if __name__ == "__main__":
    main()
