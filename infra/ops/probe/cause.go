package probe

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// where says, for a stage, where its work can get stuck: the dead-letter
// queues to read (the rule's, then the handler's), the log group to tail
// (logical IDs of the template) and the permission most often missing.
type where struct {
	dlqs       []string
	logGroup   string
	permission string
}

var stageWhere = map[string]where{
	StageTrigger:     {[]string{"ScanRuleDLQ", "ScanDLQ"}, "ScanLogGroup", "the scan rule's delivery to ScanQueue (ScanQueuePolicy) and ScanRole's sqs:ReceiveMessage"},
	StageScan:        {[]string{"ScanDLQ"}, "ScanLogGroup", "ScanRole's ecr:BatchGetImage and ecr:GetDownloadUrlForLayer, and the QScanner layer (make verify)"},
	StageBus:         {[]string{"PipeDLQ", "RejectedRecordsQueue"}, "EnrichLogGroup", "PipeRole's events:PutEvents on the image-scans bus"},
	StageArchive:     {[]string{"ArchiveRuleDLQ", "ArchiveDLQ"}, "ArchiveLogGroup", "ArchiveRole's s3:PutObject on the results bucket"},
	StageTags:        {[]string{"TagRuleDLQ", "TagDLQ"}, "TagLogGroup", "TagRole's ecr:TagResource on the repository"},
	StageReferrer:    {[]string{"TagRuleDLQ", "TagDLQ"}, "TagLogGroup", "TagRole's ecr:PutImage and layer upload actions on the repository"},
	StageAlert:       {[]string{"AlertRuleDLQ", "AlertDLQ"}, "AlertLogGroup", "AlertRole's sns:Publish on the alert topic (and kms:GenerateDataKey on ScannerKey)"},
	StageSecurityHub: {[]string{"SecurityHubRuleDLQ", "SecurityHubDLQ"}, "SecurityHubLogGroup", "SecurityHubRole's securityhub:BatchImportFindings, and Security Hub enabled in the region"},
	StageTrace:       {nil, "ScanLogGroup", "each role's xray:PutTraceSegments and active tracing on the functions"},
}

// cause is the most likely cause of a failed stage and where to look: the
// first of its dead-letter queues holding messages (and the command to read
// it), else its log group to tail; then the permission to check.
func (r *run) cause(ctx context.Context, stage string) string {
	w, ok := stageWhere[stage]
	if !ok {
		return ""
	}
	var parts []string
	for _, id := range w.dlqs {
		url := r.physical(id)
		if n := r.depth(ctx, url); n > 0 {
			parts = append(parts, fmt.Sprintf("%d message(s) in %s: aws sqs receive-message --queue-url %s --attribute-names All --message-attribute-names All", n, id, url))
			break
		}
	}
	if group := r.physical(w.logGroup); group != "" {
		parts = append(parts, "logs: aws logs tail "+group+" --since 30m")
	}
	parts = append(parts, "check "+w.permission)
	return strings.Join(parts, "; ")
}

// depth is the number of messages visible in a queue; 0 when it cannot be
// read.
func (r *run) depth(ctx context.Context, url string) int {
	if url == "" {
		return 0
	}
	out, err := r.p.c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	return n
}
