package events

import (
	"strings"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/domain"
)

// imageActionDetail is the detail of an "ECR Image Action" event, documented
// in the ECR user guide ("Amazon ECR events and EventBridge"). ECR added the
// media type fields after aws-lambda-go's type was written.
type imageActionDetail struct {
	awsevents.ECRImageActionEventDetailType
	ManifestMediaType string `json:"manifest-media-type,omitempty"`
	ArtifactMediaType string `json:"artifact-media-type,omitempty"`
}

func imageActionRequest(ev *awsevents.CloudWatchEvent, d *imageActionDetail) (ScanRequest, error) {
	if d.ActionType != actionPush {
		return ScanRequest{}, skipPushf("action-type %s is not %s", pushQuote(d.ActionType), actionPush)
	}
	if d.Result != resultSuccess {
		return ScanRequest{}, skipPushf("push result %s is not %s", pushQuote(d.Result), resultSuccess)
	}
	switch {
	case d.RepositoryName == "":
		return ScanRequest{}, invalidPushf("missing detail.repository-name")
	case d.ImageDigest == "":
		return ScanRequest{}, invalidPushf("missing detail.image-digest")
	}
	for _, m := range [...]struct{ field, value string }{
		{"detail.manifest-media-type", d.ManifestMediaType},
		{"detail.artifact-media-type", d.ArtifactMediaType},
	} {
		if m.value != "" && !validPushMediaType(m.value) {
			return ScanRequest{}, invalidPushf("%s %s: want type/subtype", m.field, pushQuote(m.value))
		}
	}
	ref, err := domain.NewImageRef(pushAccount(ev, d.RepositoryName), ev.Region, d.RepositoryName, d.ImageDigest, d.ImageTag)
	if err != nil {
		return ScanRequest{}, invalidPushErr(err)
	}
	return ScanRequest{
		Ref:               ref,
		Trigger:           TriggerImageAction,
		EventID:           ev.ID,
		EventTime:         ev.Time,
		MediaType:         d.ManifestMediaType,
		ArtifactMediaType: d.ArtifactMediaType,
	}, nil
}

// pushAccount is the event's account or, when an envelope lacks it (moto's
// rule delivery drops it), the account in the repository ARN that ECR lists
// in resources. The ARN must name the same region and repository.
func pushAccount(ev *awsevents.CloudWatchEvent, repository string) string {
	if ev.AccountID != "" {
		return ev.AccountID
	}
	for _, r := range ev.Resources {
		parts := strings.SplitN(r, ":", 6)
		if len(parts) == 6 && strings.HasPrefix(parts[0], "arn") && parts[2] == "ecr" && parts[3] == ev.Region && parts[5] == "repository/"+repository {
			return parts[4]
		}
	}
	return ""
}
