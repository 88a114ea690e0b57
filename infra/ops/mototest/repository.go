package mototest

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// RepositoryAPI is the part of the ECR client that CreateRepository uses.
type RepositoryAPI interface {
	CreateRepository(ctx context.Context, in *ecr.CreateRepositoryInput, optFns ...func(*ecr.Options)) (*ecr.CreateRepositoryOutput, error)
	DescribeRepositories(ctx context.Context, in *ecr.DescribeRepositoriesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeRepositoriesOutput, error)
}

// CreateRepository creates a repository for tests and local runs and returns
// its registry ID (the account to put in an ImageRef). A repository that
// already exists is looked up instead, so local set-up can run twice.
func CreateRepository(ctx context.Context, client RepositoryAPI, name string) (registryID string, err error) {
	out, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)})
	if err == nil {
		return aws.ToString(out.Repository.RegistryId), nil
	}
	var exists *types.RepositoryAlreadyExistsException
	if !errors.As(err, &exists) {
		return "", fmt.Errorf("create repository %s: %w", name, err)
	}
	desc, err := client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	if err != nil {
		return "", fmt.Errorf("describe repository %s: %w", name, err)
	}
	if len(desc.Repositories) == 0 {
		return "", fmt.Errorf("describe repository %s: not returned", name)
	}
	return aws.ToString(desc.Repositories[0].RegistryId), nil
}
