"""The pure domain: specs, candidates, results and recommendations, cost formulas, the workflow's
shapes and decisions. Nothing here calls AWS or imports boto3 (import-linter holds it to that)."""
