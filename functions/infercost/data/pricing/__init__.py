"""Prices of SageMaker hosting: user overrides, then the live Price List API, then a snapshot."""
