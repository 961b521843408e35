"""The README's architecture diagrams name the workflows' real states, all of them, and no others."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MERMAID_KEYWORDS = {"flowchart", "TD", "subgraph", "end"}
# Nodes of the diagram that are not states: the upload that starts it all.
NOT_STATES = {"upload"}


def asl_states(states: dict[str, Any]) -> set[str]:
    names = set()
    for name, state in states.items():
        names.add(name.rstrip("?"))
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            names |= asl_states(processor["States"])
    return names


def diagram_nodes() -> list[set[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    nodes = []
    for block in re.findall(r"```mermaid\n(.*?)```", readme, flags=re.S):
        # Labels and edge texts are quoted; what is left are node ids, shapes, arrows and keywords.
        bare = re.sub(r'"[^"]*"', "", block)
        nodes.append(set(re.findall(r"\b[A-Za-z]\w*\b", bare)) - MERMAID_KEYWORDS - NOT_STATES)
    return nodes


def test_the_readme_diagrams_have_one_node_per_asl_state() -> None:
    definitions = [
        json.loads((ROOT / "statemachine" / name).read_text(encoding="utf-8"))
        for name in ("evaluate.asl.json", "candidate.asl.json")
    ]
    assert diagram_nodes() == [asl_states(definition["States"]) for definition in definitions]
