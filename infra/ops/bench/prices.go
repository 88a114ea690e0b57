package main

// AWS list prices, US East (N. Virginia), on-demand, without free tiers,
// as published on each service's pricing page, read 2026-12-02:
//
//	Lambda       https://aws.amazon.com/lambda/pricing/
//	DynamoDB     https://aws.amazon.com/dynamodb/pricing/on-demand/
//	S3           https://aws.amazon.com/s3/pricing/
//	SQS          https://aws.amazon.com/sqs/pricing/
//	SNS          https://aws.amazon.com/sns/pricing/
//	EventBridge  https://aws.amazon.com/eventbridge/pricing/ (event bus and Pipes)
//	X-Ray        https://aws.amazon.com/xray/pricing/
//	Security Hub https://aws.amazon.com/security-hub/pricing/ (CSPM finding ingestion events)
//	Secrets Mgr  https://aws.amazon.com/secrets-manager/pricing/
//	Inspector    https://aws.amazon.com/inspector/pricing/ (Amazon ECR container image scanning)
//
// A price changes rarely but does change: the README's "Performance and
// cost" section says which were used; update both together.
const (
	lambdaRequest        = 0.20 / 1e6    // per request, either architecture
	lambdaGBSecondARM    = 0.0000133334  // per GB-second, arm64, first tier
	lambdaGBSecondX86    = 0.0000166667  // per GB-second, x86_64, first tier
	dynamoWriteUnit      = 0.625 / 1e6   // per write request unit, on-demand
	dynamoReadUnit       = 0.125 / 1e6   // per read request unit, on-demand
	s3PutRequest         = 0.005 / 1000  // PUT, COPY, POST, LIST, S3 Standard
	s3GetRequest         = 0.0004 / 1000 // GET and all other requests
	sqsRequest           = 0.40 / 1e6    // standard queue, per 64 KB chunk of a request
	snsPublish           = 0.50 / 1e6    // per publish (64 KB chunk); deliveries priced by protocol, not counted
	eventBridgeEvent     = 1.00 / 1e6    // custom event published to a bus
	pipesRequest         = 0.40 / 1e6    // per request after filtering (64 KB chunk)
	xrayTrace            = 5.00 / 1e6    // per trace recorded
	securityHubIngestion = 0.00003       // per finding ingestion event, beyond the security checks' own
	secretsAPICall       = 0.05 / 10_000 // per API call
	inspectorECRImage    = 0.09          // per container image scanned on push (initial scan)
	inspectorECRRescan   = 0.01          // per rescan under continuous scanning
)
