package chaos

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// protocol is how a service encodes its errors.
type protocol int

const (
	protoJSON     protocol = iota // awsJson 1.0/1.1: DynamoDB, SQS, ECR, Secrets Manager, EventBridge
	protoRESTJSON                 // restJson1: Security Hub
	protoQuery                    // awsQuery: SNS, STS
	protoS3                       // restXml, S3's own error document
)

// errorCode is the service's own code for fault: what the service returns
// when it throttles, and its internal error. The SDK's standard retryer
// treats each throttling code here as a throttle (aws/retry
// DefaultThrottleErrorCodes) and each 5xx as retryable.
func errorCode(service string, fault Fault) (code string, status int) {
	if fault == FaultThrottle {
		switch service {
		case "dynamodb":
			// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
			return "ProvisionedThroughputExceededException", http.StatusBadRequest
		case "sqs":
			// https://docs.aws.amazon.com/botocore/latest/reference/services/sqs/client/exceptions/RequestThrottled.html
			return "RequestThrottled", http.StatusBadRequest
		case "s3":
			// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (SlowDown, 503)
			return "SlowDown", http.StatusServiceUnavailable
		default:
			// SNS "Rate exceeded": https://repost.aws/knowledge-center/sns-throttling-exception-errors
			return "ThrottlingException", http.StatusBadRequest
		}
	}
	switch service {
	case "dynamodb":
		return "InternalServerError", http.StatusInternalServerError
	case "s3":
		return "InternalError", http.StatusInternalServerError
	case "sqs", "sns":
		return "ServiceUnavailable", http.StatusServiceUnavailable
	default:
		return "InternalFailure", http.StatusInternalServerError
	}
}

// writeError answers req with fault in the shape its protocol uses.
func writeError(w http.ResponseWriter, req request, fault Fault) {
	code, status := errorCode(req.service, fault)
	msg := "chaos: injected " + string(fault)
	rid := strconv.FormatInt(time.Now().UnixNano(), 36)
	h := w.Header()
	h.Set("X-Amzn-RequestId", rid)
	var body string
	switch req.protocol {
	case protoJSON:
		ns := map[string]string{"dynamodb": "com.amazonaws.dynamodb.v20120810#", "sqs": "com.amazonaws.sqs#"}[req.service]
		h.Set("Content-Type", "application/x-amz-json-1.0")
		if req.service == "sqs" {
			// SQS speaks JSON but keeps its query error codes in this header.
			h.Set("X-Amzn-Query-Error", code+";Sender")
		}
		body = fmt.Sprintf(`{"__type":%q,"message":%q}`, ns+code, msg)
	case protoRESTJSON:
		h.Set("Content-Type", "application/json")
		h.Set("X-Amzn-ErrorType", code)
		body = fmt.Sprintf(`{"message":%q}`, msg)
	case protoQuery:
		h.Set("Content-Type", "text/xml")
		body = fmt.Sprintf(`<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, code, msg, rid)
	case protoS3:
		h.Set("Content-Type", "application/xml")
		body = fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId></Error>`, code, msg, rid)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
