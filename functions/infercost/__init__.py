"""infercost: measure SageMaker endpoint configurations, recommend the cheapest that meets the SLO."""

__version__ = "0.1.0"
