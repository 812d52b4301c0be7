"""``service``: the HTTP/gRPC service, its batching, feedback, shadow model and limits."""

from __future__ import annotations

from pydantic import Field, model_validator

from housing.config.base import NonNegativeInt, PositiveFloat, PositiveInt, ProjectPath, Section


class FeedbackConfig(Section):
    """``POST /feedback`` (gRPC SubmitFeedback): true prices for logged predictions, behind a
    bearer token."""

    enabled: bool = Field(
        default=True,
        description="false: the feedback route answers 404 (gRPC UNIMPLEMENTED) and no labels "
        "reach the log",
    )
    allow_unauthenticated: bool = Field(
        default=False, description="local development only: accept feedback without a token"
    )
    token_env: str = Field(
        default="HOUSING_FEEDBACK_TOKEN",
        description="environment variable holding the bearer token feedback requests must send",
    )
    token_file: ProjectPath | None = Field(
        default=None,
        description="where the token is read from when token_env is unset (make serve writes it)",
    )
    plausible_min: PositiveFloat = Field(
        description="smallest believable actual price (in dataset.target_unit): a label below "
        "it is answered `implausible` and not stored; the monitor ignores such labels too"
    )
    plausible_max: PositiveFloat = Field(
        description="largest believable actual price (in dataset.target_unit): a label above "
        "it is answered `implausible` and not stored; the monitor ignores such labels too"
    )
    max_items_per_request: PositiveInt = Field(
        default=1000, description="most labels one feedback request may carry (more: 400)"
    )


class ShadowConfig(Section):
    """A second registered version scored on live traffic beside the champion, never answered."""

    version: PositiveInt | None = Field(
        default=None,
        description="score this version as the shadow; null: follow the registry's shadow "
        "alias (`housing shadow start VERSION` / `housing shadow stop`)",
    )
    max_pending_batches: PositiveInt = Field(
        default=4,
        description="batches waiting for the shadow while it prices; a batch beyond this is "
        "skipped and counted",
    )
    batch_rows: PositiveInt = Field(
        default=500,
        description="rows the shadow gathers from several model batches before one model call "
        "and one insert (the per-call cost is paid once per this many rows)",
    )
    max_wait_ms: PositiveInt = Field(
        default=1000,
        description="the longest a gathered row waits for batch_rows before the shadow prices "
        "what it has (light traffic)",
    )


class CorsConfig(Section):
    """Cross-origin requests from browsers, applied to every route (off by default)."""

    enabled: bool = Field(
        default=False, description="true: answer CORS preflights and add the CORS headers"
    )
    allow_origins: list[str] = Field(
        default_factory=list,
        description="origins allowed to call the API, e.g. https://app.example",
    )
    allow_methods: list[str] = Field(
        default_factory=lambda: ["GET", "POST"],
        description="HTTP methods a cross-origin caller may use",
    )
    allow_headers: list[str] = Field(
        default_factory=lambda: ["Authorization", "Content-Type"],
        description="request headers a cross-origin caller may send",
    )
    max_age_s: int = Field(
        default=600, ge=0, description="seconds browsers may cache a preflight answer"
    )

    @model_validator(mode="after")
    def _origins_when_enabled(self) -> CorsConfig:
        if self.enabled and not self.allow_origins:
            raise ValueError("allow_origins must list at least one origin when enabled")
        return self


class ServiceConfig(Section):
    """The prediction service (``bentoml serve``): HTTP and gRPC, batching, limits, feedback."""

    host: str = Field(
        default="127.0.0.1",
        description="address the HTTP and gRPC servers listen on (0.0.0.0: every interface, "
        "e.g. in a container)",
    )
    port: int = Field(default=3000, ge=1, le=65535, description="HTTP port")
    grpc_port: int = Field(default=3001, ge=1, le=65535, description="gRPC port")
    workers: PositiveInt = Field(
        default=1,
        description="service worker processes, each with its own model and batch; about one "
        "per core",
    )
    numeric_threads: PositiveInt = Field(
        default=1, description="OpenMP/BLAS threads per worker; workers x threads <= cores"
    )
    max_batch_size: PositiveInt = Field(
        default=1000,
        description="most rows per model call; records of concurrent requests are merged up to "
        "this",
    )
    small_batch_rows: NonNegativeInt = Field(
        default=32,
        description="model batches up to this many rows are scored by treelite's GTIL in one "
        "native call instead of scikit-learn's one call per tree (0: always scikit-learn)",
    )
    max_latency_ms: PositiveInt = Field(
        default=500,
        description="milliseconds a request may wait in the batch queue; one that waited longer "
        "is answered 503 (overloaded) instead of late",
    )
    max_records_per_request: PositiveInt = Field(
        default=1000, description="most houses one prediction request may carry (more: 400)"
    )
    max_body_bytes: PositiveInt = Field(
        default=2_000_000,
        description="largest request body in bytes (HTTP: 413; also the gRPC message limit)",
    )
    request_timeout_s: PositiveFloat = Field(
        default=30.0, description="BentoML's timeout of one request in seconds (traffic.timeout)"
    )
    body_read_timeout_s: PositiveFloat = Field(
        default=10.0,
        description="a request body not received in full within this is refused (408), so a "
        "slow or stuck client cannot hold a connection (or a shutdown) indefinitely",
    )
    header_read_timeout_s: PositiveFloat = Field(
        default=10.0,
        description="a connection that has not sent a request's headers in full within this "
        "(counted from its first byte, or from the connection) gets 408 and is closed",
    )
    drain_timeout_s: PositiveFloat = Field(
        default=15.0,
        description="after SIGTERM, requests still open after this are cancelled and the "
        "worker shuts down (then gRPC calls get as long again; the prediction log is flushed)",
    )
    model_poll_interval_s: PositiveFloat = Field(
        default=5.0,
        description="seconds between a worker's checks of who the champion (and shadow) is; "
        "a promotion is served within this",
    )
    access_log: bool = Field(
        default=False,
        description="BentoML's per-request access log (costs a large share of a small request)",
    )
    cors: CorsConfig = Field(default_factory=CorsConfig)
    feedback: FeedbackConfig
    shadow: ShadowConfig = ShadowConfig()
