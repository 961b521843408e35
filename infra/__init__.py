"""The CDK app that deploys infercost into an account (docs/deploy.md)."""
