"""The Lambda handlers, one per workflow state (docs/architecture.md, "One name per thing").

The CDK stack creates one function per entry of `HANDLERS` and the local runtime routes
invocations by the same registry, so adding a state means adding one line here.
"""

# ASL state name -> module under infercost.handlers; each module exposes handler(event, context).
HANDLERS: dict[str, str] = {
    "Prepare": "prepare",
    "LoadTest": "load_test",
    "CollectMetrics": "collect_metrics",
    "Teardown": "teardown",
    "Recommend": "recommend",
    "Report": "report",
    "Notify": "notify",
}

# The scheduled sweep that deletes orphaned or over-age benchmark endpoints.
JANITOR = "janitor"
