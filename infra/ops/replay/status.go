package replay

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"ecrscanner/domain"
)

// Idempotency marker statuses, as dynamostore.IdempotencyStore writes them.
const (
	MarkerDone       = "DONE"
	MarkerInProgress = "IN_PROGRESS"
)

// MarkerKey is the idempotency key a handler records its effect for an event
// under: "<handler>#<eventId>", plus "#replay#<replayId>" for a replay. It
// must agree with consume.IdempotencyKey (a test pins the two together).
func MarkerKey(handler, eventID, replayID string) string {
	k := handler + "#" + eventID
	if replayID != "" {
		k += "#replay#" + replayID
	}
	return k
}

// Marker is a handler's idempotency marker for one event.
type Marker struct {
	Handler  string `json:"handler"`
	EventID  string `json:"eventId"`
	ReplayID string `json:"replayId,omitempty"`
	// Status is MarkerDone or MarkerInProgress.
	Status string `json:"status"`
	// LeaseUntil is when an in-progress marker stops holding off others.
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
	// ExpiresAt is when the marker is forgotten.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// MarkerAPI is the part of the DynamoDB API that reads idempotency markers.
type MarkerAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Markers reads the idempotency table.
type Markers struct {
	client MarkerAPI
	table  string
}

// NewMarkers returns a reader of the idempotency table named table.
func NewMarkers(client MarkerAPI, table string) (*Markers, error) {
	if client == nil || table == "" {
		return nil, errors.New("markers: nil client or empty table name")
	}
	return &Markers{client: client, table: table}, nil
}

// Get reads handler's marker for the live delivery of eventID; false when
// there is none.
func (m *Markers) Get(ctx context.Context, handler, eventID string) (Marker, bool, error) {
	key := MarkerKey(handler, eventID, "")
	out, err := m.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(m.table),
		Key:            map[string]types.AttributeValue{"key": &types.AttributeValueMemberS{Value: key}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Marker{}, false, fmt.Errorf("read marker %s: %w", key, err)
	}
	if len(out.Item) == 0 {
		return Marker{}, false, nil
	}
	mk := marker(out.Item)
	mk.Handler, mk.EventID = handler, eventID
	return mk, true, nil
}

// Replays lists the handlers' markers for replays of any of eventIDs. The
// table's only key is the marker key, so this scans the whole table with a
// prefix filter: fine for an operator's look, not for a hot path.
func (m *Markers) Replays(ctx context.Context, handlers, eventIDs []string) ([]Marker, error) {
	if len(handlers) == 0 || len(eventIDs) == 0 {
		return nil, nil
	}
	type prefix struct{ handler, eventID, text string }
	var prefixes []prefix
	var conds []string
	values := map[string]types.AttributeValue{}
	for _, h := range handlers {
		for _, id := range eventIDs {
			p := prefix{h, id, MarkerKey(h, id, "") + "#replay#"}
			ph := ":p" + strconv.Itoa(len(prefixes))
			prefixes = append(prefixes, p)
			conds = append(conds, "begins_with(#k, "+ph+")")
			values[ph] = &types.AttributeValueMemberS{Value: p.text}
		}
	}
	var out []Marker
	var start map[string]types.AttributeValue
	for {
		page, err := m.client.Scan(ctx, &dynamodb.ScanInput{
			TableName:                 aws.String(m.table),
			FilterExpression:          aws.String(strings.Join(conds, " OR ")),
			ExpressionAttributeNames:  map[string]string{"#k": "key"},
			ExpressionAttributeValues: values,
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, fmt.Errorf("scan %s for replay markers: %w", m.table, err)
		}
		for _, item := range page.Items {
			k, _ := item["key"].(*types.AttributeValueMemberS)
			if k == nil {
				continue
			}
			for _, p := range prefixes {
				if replayID, ok := strings.CutPrefix(k.Value, p.text); ok {
					mk := marker(item)
					mk.Handler, mk.EventID, mk.ReplayID = p.handler, p.eventID, replayID
					out = append(out, mk)
					break
				}
			}
		}
		if start = page.LastEvaluatedKey; len(start) == 0 {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Handler != b.Handler {
			return a.Handler < b.Handler
		}
		if a.ExpiresAt != b.ExpiresAt {
			return a.ExpiresAt.Before(b.ExpiresAt)
		}
		return a.ReplayID < b.ReplayID
	})
	return out, nil
}

func marker(item map[string]types.AttributeValue) Marker {
	var m Marker
	if s, ok := item["status"].(*types.AttributeValueMemberS); ok {
		m.Status = s.Value
	}
	if n, ok := number(item, "leaseUntil"); ok {
		m.LeaseUntil = time.UnixMilli(n).UTC()
	}
	if n, ok := number(item, "expiresAt"); ok {
		m.ExpiresAt = time.Unix(n, 0).UTC()
	}
	return m
}

func number(item map[string]types.AttributeValue, name string) (int64, bool) {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}

// ImagesAPI is the part of the ECR API that looks an image up by tag.
type ImagesAPI interface {
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

// ResolveTag returns the digest repository:tag points at. registryID (an
// account) and region may be empty for the caller's own. A missing
// repository or tag wraps domain.ErrNotFound.
func ResolveTag(ctx context.Context, client ImagesAPI, registryID, region, repository, tag string) (domain.Digest, error) {
	return resolveImage(ctx, client, registryID, region, repository, tag, ecrtypes.ImageIdentifier{ImageTag: aws.String(tag)})
}

// ConfirmDigest checks that repository holds the image digest, returning
// it; an image or repository ECR does not have wraps domain.ErrNotFound.
func ConfirmDigest(ctx context.Context, client ImagesAPI, registryID, region, repository string, digest domain.Digest) (domain.Digest, error) {
	return resolveImage(ctx, client, registryID, region, repository, digest.String(), ecrtypes.ImageIdentifier{ImageDigest: aws.String(digest.String())})
}

func resolveImage(ctx context.Context, client ImagesAPI, registryID, region, repository, tag string, id ecrtypes.ImageIdentifier) (domain.Digest, error) {
	in := &ecr.DescribeImagesInput{
		RepositoryName: aws.String(repository),
		ImageIds:       []ecrtypes.ImageIdentifier{id},
	}
	if registryID != "" {
		in.RegistryId = aws.String(registryID)
	}
	var opts []func(*ecr.Options)
	if region != "" {
		opts = append(opts, func(o *ecr.Options) { o.Region = region })
	}
	out, err := client.DescribeImages(ctx, in, opts...)
	var noImage *ecrtypes.ImageNotFoundException
	var noRepo *ecrtypes.RepositoryNotFoundException
	switch {
	case errors.As(err, &noImage) || errors.As(err, &noRepo):
		return "", fmt.Errorf("resolve %s:%s: %w: %v", repository, tag, domain.ErrNotFound, err)
	case err != nil:
		return "", fmt.Errorf("resolve %s:%s: %w", repository, tag, err)
	case len(out.ImageDetails) == 0:
		return "", fmt.Errorf("resolve %s:%s: %w", repository, tag, domain.ErrNotFound)
	}
	d, err := domain.ParseDigest(aws.ToString(out.ImageDetails[0].ImageDigest))
	if err != nil {
		return "", fmt.Errorf("resolve %s:%s: %w", repository, tag, err)
	}
	return d, nil
}
