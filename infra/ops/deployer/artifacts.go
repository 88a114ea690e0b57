package deployer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// DefaultArtifactsPrefix is the key prefix under which each deployment's
// artifacts go, in a folder named by their content.
const DefaultArtifactsPrefix = "ecr-image-scanner"

// ownerTag marks an artifacts bucket the deployer created, with the stack
// name as value: destroy deletes only such a bucket.
const ownerTag = "ecr-image-scanner:artifacts-for-stack"

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// DefaultArtifactsBucket is the artifacts bucket of a stack:
// <stack>-artifacts-<account>-<region>, lowercased. It fails when the name
// is not a valid bucket name (a long stack name); set ARTIFACTS_BUCKET then.
func DefaultArtifactsBucket(stackName, account, region string) (string, error) {
	name := strings.ToLower(fmt.Sprintf("%s-artifacts-%s-%s", stackName, account, region))
	if !bucketName.MatchString(name) || strings.Contains(name, "..") {
		return "", fmt.Errorf("artifacts bucket name %q is not a valid S3 bucket name (at most 63 characters): set ARTIFACTS_BUCKET", name)
	}
	return name, nil
}

// ensureBucket makes sure the artifacts bucket exists and belongs to this
// account. A bucket it creates is encrypted, blocks all public access,
// refuses plain HTTP and carries the owner tag. It reports whether it
// created the bucket.
func (d *Deployer) ensureBucket(ctx context.Context, bucket, account, stackName string) (bool, error) {
	_, err := d.c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket), ExpectedBucketOwner: ownerOrNil(account)})
	switch {
	case err == nil:
		return false, nil
	case httpStatus(err) == 403:
		return false, fmt.Errorf("artifacts bucket %s exists but belongs to another account, or these credentials may not use it: set ARTIFACTS_BUCKET", bucket)
	case !notFound(err):
		return false, fmt.Errorf("look up artifacts bucket %s: %w", bucket, err)
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if d.reg != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(d.reg)}
	}
	if _, err := d.c.S3.CreateBucket(ctx, in); err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "BucketAlreadyOwnedByYou" {
			return false, nil
		}
		return false, fmt.Errorf("create artifacts bucket %s: %w", bucket, err)
	}
	if _, err := d.c.S3.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
		Bucket: aws.String(bucket),
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAes256},
		}}},
	}); err != nil {
		return true, fmt.Errorf("encrypt artifacts bucket %s: %w", bucket, err)
	}
	if _, err := d.c.S3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
		Bucket: aws.String(bucket),
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true),
			IgnorePublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
		},
	}); err != nil {
		return true, fmt.Errorf("block public access to artifacts bucket %s: %w", bucket, err)
	}
	if err := d.requireTLS(ctx, bucket); err != nil {
		return true, err
	}
	if _, err := d.c.S3.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{
		Bucket:  aws.String(bucket),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String(ownerTag), Value: aws.String(stackName)}}},
	}); err != nil {
		return true, fmt.Errorf("tag artifacts bucket %s: %w", bucket, err)
	}
	return true, nil
}

// requireTLS gives the bucket a policy refusing plain-HTTP requests. A local
// emulator is reached over plain HTTP and enforces the policy, so there the
// policy is left out.
func (d *Deployer) requireTLS(ctx context.Context, bucket string) error {
	if d.emu != nil {
		return nil
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*",`+
		`"Resource":["arn:%[1]s:s3:::%[2]s","arn:%[1]s:s3:::%[2]s/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, partition(d.reg), bucket)
	if _, err := d.c.S3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(policy)}); err != nil {
		return fmt.Errorf("set policy of artifacts bucket %s: %w", bucket, err)
	}
	return nil
}

// ownedArtifactsBucket reports whether bucket exists and was created by the
// deployer for stackName.
func (d *Deployer) ownedArtifactsBucket(ctx context.Context, bucket, stackName string) (bool, error) {
	out, err := d.c.S3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	if err != nil {
		if notFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("read tags of bucket %s: %w", bucket, err)
	}
	for _, t := range out.TagSet {
		if aws.ToString(t.Key) == ownerTag && aws.ToString(t.Value) == stackName {
			return true, nil
		}
	}
	return false, nil
}

// upload puts a file at key unless an object is already there: keys are
// named by content, so an existing one holds the same bytes. It reports
// whether it uploaded.
func (d *Deployer) upload(ctx context.Context, bucket, key, path, contentType string) (bool, error) {
	if _, err := d.c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err == nil {
		return false, nil
	} else if !notFound(err) {
		return false, fmt.Errorf("look up s3://%s/%s: %w", bucket, key, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("upload %s: %w", path, err)
	}
	defer f.Close()
	if _, err := d.c.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: f, ContentType: aws.String(contentType),
	}); err != nil {
		return false, fmt.Errorf("upload %s to s3://%s/%s: %w", path, bucket, key, err)
	}
	return true, nil
}

// uploadTemplate stores the template under a key named by its content and
// returns the URL CloudFormation reads it from. The template is larger than
// CloudFormation's 51,200-byte TemplateBody limit, so it always goes by URL.
func (d *Deployer) uploadTemplate(ctx context.Context, bucket, prefix string, body []byte) (string, error) {
	sum := sha256.Sum256(body)
	key := fmt.Sprintf("%s/templates/%s.yaml", prefix, hex.EncodeToString(sum[:])[:16])
	if _, err := d.c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		if !notFound(err) {
			return "", fmt.Errorf("look up s3://%s/%s: %w", bucket, key, err)
		}
		if _, err := d.c.S3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(string(body)), ContentType: aws.String("application/x-yaml"),
		}); err != nil {
			return "", fmt.Errorf("upload template to s3://%s/%s: %w", bucket, key, err)
		}
	}
	return TemplateURL(d.reg, bucket, key), nil
}

// TemplateURL is the HTTPS URL of an S3 object as CloudFormation's
// TemplateURL takes it. It is path-style, the form CloudFormation's own
// console uses, which also works for bucket names with dots and is the form
// moto's CloudFormation reads from its own S3.
func TemplateURL(region, bucket, key string) string {
	host := "s3." + region + ".amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		host += ".cn"
	}
	return "https://" + host + "/" + bucket + "/" + key
}

func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

func ownerOrNil(account string) *string {
	if account == "" {
		return nil
	}
	return aws.String(account)
}

// emptyBucket deletes every object version and delete marker in bucket and
// returns how many it deleted.
func (d *Deployer) emptyBucket(ctx context.Context, bucket string) (int, error) {
	deleted := 0
	var keyMarker, versionMarker *string
	for {
		out, err := d.c.S3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{
			Bucket: aws.String(bucket), KeyMarker: keyMarker, VersionIdMarker: versionMarker,
		})
		if err != nil {
			return deleted, fmt.Errorf("list objects of bucket %s: %w", bucket, err)
		}
		var ids []s3types.ObjectIdentifier
		for _, v := range out.Versions {
			ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range out.DeleteMarkers {
			ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		// A page holds at most 1000 entries, DeleteObjects' limit.
		if len(ids) > 0 {
			res, err := d.c.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{
				Bucket: aws.String(bucket), Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)},
			})
			if err != nil {
				return deleted, fmt.Errorf("delete objects of bucket %s: %w", bucket, err)
			}
			if len(res.Errors) > 0 {
				e := res.Errors[0]
				return deleted, fmt.Errorf("delete objects of bucket %s: %d failed, first %s: %s %s",
					bucket, len(res.Errors), aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
			}
			deleted += len(ids)
		}
		if !aws.ToBool(out.IsTruncated) {
			return deleted, nil
		}
		keyMarker, versionMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
}

// countObjects returns how many object versions and delete markers bucket
// holds, stopping at limit.
func (d *Deployer) countObjects(ctx context.Context, bucket string, limit int) (int, error) {
	n := 0
	var keyMarker, versionMarker *string
	for n < limit {
		out, err := d.c.S3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{
			Bucket: aws.String(bucket), KeyMarker: keyMarker, VersionIdMarker: versionMarker,
		})
		if err != nil {
			return n, fmt.Errorf("list objects of bucket %s: %w", bucket, err)
		}
		n += len(out.Versions) + len(out.DeleteMarkers)
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		keyMarker, versionMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	return n, nil
}
