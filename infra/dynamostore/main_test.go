package dynamostore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"ecrscanner/domain"
	"ecrscanner/infra/dynamostore"
	"ecrscanner/infra/ops/mototest"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func TestMain(m *testing.M) { os.Exit(mototest.Run(m)) }

func dynamoClient(t *testing.T) *dynamodb.Client {
	t.Helper()
	return dynamodb.NewFromConfig(mototest.Config(t))
}

// newScansTable creates a fresh scans table on moto and returns its client,
// name and stream ARN.
func newScansTable(t *testing.T) (*dynamodb.Client, string, string) {
	t.Helper()
	client := dynamoClient(t)
	name := mototest.UniqueName("scans")
	arn, err := mototest.CreateScansTable(context.Background(), client, name)
	if err != nil {
		t.Fatalf("mototest.CreateScansTable: %v", err)
	}
	return client, name, arn
}

func newDynamoScanStore(t *testing.T) *dynamostore.ScanStore {
	t.Helper()
	client, name, _ := newScansTable(t)
	s, err := dynamostore.NewScanStore(client, name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomDigest(t testing.TB) domain.Digest {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b[:])
	d, err := domain.ParseDigest("sha256:" + hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func imageRef(t testing.TB, d domain.Digest, repository, tag string) domain.ImageRef {
	t.Helper()
	ref, err := domain.NewImageRef("123456789012", "us-east-1", repository, string(d), tag)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// claim is the push handler's use of Update: it returns the decision of the
// fn call whose result was written.
func claim(ctx context.Context, s domain.ScanStore, ref domain.ImageRef, owner string, now time.Time) (domain.Decision, error) {
	var decision domain.Decision
	err := s.Update(ctx, ref.Digest, func(sc *domain.Scan) error {
		var err error
		decision, err = sc.Claim(domain.Claim{Ref: ref, Owner: owner, Now: now, LeaseUntil: now.Add(15 * time.Minute)})
		return err
	})
	return decision, err
}
