"""One construct per concern; `infra/infercost_stack.py` wires them together."""
