"""The work of each state of the evaluation workflows, one module per state (the janitor's too).

Each function takes its AWS clients as arguments, so tests run it against moto, and each is safe
to retry: store writes are conditional and deletes idempotent. The handlers parse the event,
make the clients and call these.
"""
