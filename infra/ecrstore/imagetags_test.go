package ecrstore

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// fakeDescribe answers DescribeImages with a canned output or error and
// keeps the last request and its region.
type fakeDescribe struct {
	out    *ecr.DescribeImagesOutput
	err    error
	in     *ecr.DescribeImagesInput
	region string
}

func (f *fakeDescribe) DescribeImages(_ context.Context, in *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error) {
	f.in = in
	var o ecr.Options
	for _, fn := range optFns {
		fn(&o)
	}
	f.region = o.Region
	return f.out, f.err
}

func TestNewImageTagsRejectsNilClient(t *testing.T) {
	if _, err := NewImageTags(nil); err == nil {
		t.Error("NewImageTags(nil) succeeded")
	}
}

func TestTagsOf(t *testing.T) {
	tests := []struct {
		name    string
		out     *ecr.DescribeImagesOutput
		err     error
		want    []string
		wantErr bool
	}{
		{name: "still tagged", out: &ecr.DescribeImagesOutput{ImageDetails: []types.ImageDetail{{ImageDigest: aws.String(testDigest), ImageTags: []string{"v1", "latest"}}}}, want: []string{"v1", "latest"}},
		{name: "untagged", out: &ecr.DescribeImagesOutput{ImageDetails: []types.ImageDetail{{ImageDigest: aws.String(testDigest)}}}},
		{name: "image gone", err: &types.ImageNotFoundException{Message: aws.String("gone")}},
		{name: "repository gone", err: &types.RepositoryNotFoundException{Message: aws.String("gone")}},
		{name: "throttled", err: errors.New("throttled"), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeDescribe{out: tc.out, err: tc.err}
			it, _ := NewImageTags(fake)
			got, err := it.TagsOf(context.Background(), testRef(t))
			if (err != nil) != tc.wantErr {
				t.Fatalf("TagsOf error = %v, want error %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("TagsOf = %q, want %q", got, tc.want)
			}
			if aws.ToString(fake.in.RegistryId) != "123456789012" || aws.ToString(fake.in.RepositoryName) != "team/app" ||
				len(fake.in.ImageIds) != 1 || aws.ToString(fake.in.ImageIds[0].ImageDigest) != testDigest || fake.in.ImageIds[0].ImageTag != nil {
				t.Errorf("asked for %+v, want the digest alone in the image's repository and registry", fake.in)
			}
			if fake.region != "us-east-1" {
				t.Errorf("asked region %q, want the image's", fake.region)
			}
		})
	}
}
