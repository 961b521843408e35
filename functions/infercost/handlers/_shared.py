"""What every handler needs: Powertools, the settings, the results store, the price book."""

from __future__ import annotations

import os
import threading
import warnings
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic import BaseModel

from infercost.data import clients as aws
from infercost.data.store import ResultsStore
from infercost.domain.models import parse_model

# docs/architecture.md, "Operational metrics". The stack names the service after its resource
# prefix (the `service` dimension its alarms watch) and sets the namespace; these apply where
# the environment does not (a local run, a test).
DEFAULT_SERVICE = "infercost"
DEFAULT_NAMESPACE = "infercost"
SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"
NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"

if TYPE_CHECKING:
    from infercost.data.settings import Settings

E = TypeVar("E", bound=BaseModel)

# Most states publish no metric; Powertools would warn about that on every invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


# What the handlers call out with: AWS through botocore; Notify also posts to the Slack webhook
# through http.client. X-Ray's default (patch_all) would import every library it can patch
# (requests, sqlite3, httpx, ...) into each function's cold start, and patching http.client
# costs ≈ 20 ms of it, so only Notify pays for that.
TRACED_MODULES = ("botocore",)
HTTP_CLIENT = "httplib"


def powertools(*, traces_http_client: bool = False) -> tuple[Logger, Tracer, Metrics]:
    """A handler module's Logger, Tracer and Metrics (created when the module is imported)."""
    patched = (*TRACED_MODULES, HTTP_CLIENT) if traces_http_client else TRACED_MODULES
    service = os.environ.get(SERVICE_ENV) or DEFAULT_SERVICE
    namespace = os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE
    return (
        Logger(service=service),
        Tracer(service=service, patch_modules=patched),
        Metrics(namespace=namespace, service=service),
    )


def parse_event(model: type[E], event: Any) -> E:
    """The event as `model`; an InputError naming the field when the state passed something else."""
    return parse_model(model, event, prefix="event")


def results_store() -> ResultsStore:
    return ResultsStore(aws.client("dynamodb"), get_settings().table_name)


def price_book() -> Any:
    """Prices for the function's region: overrides, then the Price List API (unless the settings
    say snapshot), then the snapshot."""
    from infercost.data.pricing.book import PriceBook

    settings = get_settings()
    live = settings.price_list == "live"
    # The Price List API answers in us-east-1 whatever region is priced.
    pricing = aws.client("pricing", region="us-east-1") if live else None
    return PriceBook.load(
        settings.region, overrides=settings.price_overrides, live=live, pricing_client=pricing
    )


_settings_lock = threading.Lock()
_settings: Settings | None = None


def get_settings() -> Settings:
    """The function's settings, parsed from its environment the first time they are needed.

    pydantic-settings (≈ 30 ms of import) loads here, at the first invocation, not at import.
    """
    from infercost.data.settings import Settings

    global _settings
    with _settings_lock:
        if _settings is None:
            _settings = Settings.load()
        return _settings


def reset_settings() -> None:
    """Forget the parsed settings (the local stack and tests change the environment)."""
    global _settings
    with _settings_lock:
        _settings = None
