"""The embedded local stack: model servers, AWS emulation extensions."""
