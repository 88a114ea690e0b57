package events

import (
	"encoding/json"

	awsevents "github.com/aws/aws-lambda-go/events"

	"ecrscanner/domain"
)

// cloudTrailHead is the part of a CloudTrail record (the detail of an "AWS
// API Call via CloudTrail" event) that tells which call it was, where, and
// whether it failed.
type cloudTrailHead struct {
	EventSource        string `json:"eventSource"`
	EventName          string `json:"eventName"`
	AWSRegion          string `json:"awsRegion"`
	RecipientAccountID string `json:"recipientAccountId"`
	ErrorCode          string `json:"errorCode"`
}

// skip returns a *SkipError unless the record is a successful ECR PutImage.
func (h *cloudTrailHead) skip() error {
	switch {
	case h.EventSource != cloudTrailECR:
		return skipPushf("CloudTrail eventSource %s is not %s", pushQuote(h.EventSource), cloudTrailECR)
	case h.EventName != cloudTrailPutImage:
		return skipPushf("CloudTrail eventName %s is not %s", pushQuote(h.EventName), cloudTrailPutImage)
	case h.ErrorCode != "":
		return skipPushf("PutImage failed with errorCode %s", pushQuote(h.ErrorCode))
	}
	return nil
}

// cloudTrailRecord keeps the call's parameters raw until the call is known to
// be PutImage, since other calls give the same names other shapes.
type cloudTrailRecord struct {
	cloudTrailHead
	RequestParameters json.RawMessage `json:"requestParameters"`
	ResponseElements  json.RawMessage `json:"responseElements"`
}

// putImageRequest and putImageResponse follow ECR's PutImage API as
// CloudTrail records it ("Logging Amazon ECR actions with AWS CloudTrail").
type putImageRequest struct {
	RegistryID             string `json:"registryId"`
	RepositoryName         string `json:"repositoryName"`
	ImageTag               string `json:"imageTag"`
	ImageDigest            string `json:"imageDigest"`
	ImageManifestMediaType string `json:"imageManifestMediaType"`
	ImageManifest          string `json:"imageManifest"`
}

type putImageResponse struct {
	Image struct {
		RegistryID             string `json:"registryId"`
		RepositoryName         string `json:"repositoryName"`
		ImageManifestMediaType string `json:"imageManifestMediaType"`
		ImageID                struct {
			ImageDigest string `json:"imageDigest"`
			ImageTag    string `json:"imageTag"`
		} `json:"imageId"`
	} `json:"image"`
}

// manifestHead is what the media type hints need from a pushed manifest.
type manifestHead struct {
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType"`
	Config       struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
}

func putImageScanRequest(ev *awsevents.CloudWatchEvent, h *cloudTrailHead, req *putImageRequest, resp *putImageResponse) (ScanRequest, error) {
	img := &resp.Image
	repository := pushFirst(req.RepositoryName, img.RepositoryName)
	digest := pushFirst(img.ImageID.ImageDigest, req.ImageDigest)
	switch {
	case repository == "":
		return ScanRequest{}, invalidPushf("missing detail.requestParameters.repositoryName")
	case digest == "":
		return ScanRequest{}, invalidPushf("missing detail.responseElements.image.imageId.imageDigest")
	}
	// The registry IDs name the account that owns the repository. They come
	// before recipientAccountId because a cross-account push is also
	// recorded in the caller's account, where the recipient is the caller.
	account := pushFirst(img.RegistryID, req.RegistryID, h.RecipientAccountID, ev.AccountID)
	region := pushFirst(h.AWSRegion, ev.Region)
	tag := pushFirst(req.ImageTag, img.ImageID.ImageTag)
	mediaType := pushFirst(img.ImageManifestMediaType, req.ImageManifestMediaType)
	if mediaType != "" && !validPushMediaType(mediaType) {
		return ScanRequest{}, invalidPushf("detail imageManifestMediaType %s: want type/subtype", pushQuote(mediaType))
	}
	var artifactType string
	if req.ImageManifest != "" {
		// The manifest is the pusher's content, not the event's: a hint that
		// does not parse or validate is dropped, never fatal.
		var m manifestHead
		if json.Unmarshal([]byte(req.ImageManifest), &m) == nil {
			if mediaType == "" && validPushMediaType(m.MediaType) {
				mediaType = m.MediaType
			}
			if at := pushFirst(m.ArtifactType, m.Config.MediaType); validPushMediaType(at) {
				artifactType = at
			}
		}
	}
	ref, err := domain.NewImageRef(account, region, repository, digest, tag)
	if err != nil {
		return ScanRequest{}, invalidPushErr(err)
	}
	return ScanRequest{
		Ref:               ref,
		Trigger:           TriggerCloudTrailPutImage,
		EventID:           ev.ID,
		EventTime:         ev.Time,
		MediaType:         mediaType,
		ArtifactMediaType: artifactType,
	}, nil
}

func pushFirst(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
