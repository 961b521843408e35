"""Data access: every call to AWS lives here (DynamoDB, S3, CloudWatch, SageMaker, the Price
List API, Secrets Manager), each function taking its boto3 client as an argument."""
