package testkit

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"ecrscanner/domain"
)

// The identity of the sample scan: one image in one registry, scanned once.
// Builders use these unless told otherwise, so that files built from their
// output (golden files) are stable.
const (
	Account = "123456789012"
	Region  = "eu-west-1"
	// Digest is the sample image's content.
	Digest = domain.Digest("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	// OtherDigest is a second image, for a rescan of another build or a
	// second push in the same repository.
	OtherDigest = domain.Digest("sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752")
	// ScanID is the scan of Digest whose report the sample events point at.
	ScanID = "5f2b0c1e9a7d4e3f8b6a1c0d2e4f6a8b"
	// Bucket holds the sample reports.
	Bucket = "scanner-results-123456789012"
)

// ScannedAt is when the sample scan finished.
var ScannedAt = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// MustRef is repository:tag of Digest in Account and Region; tag "" is an
// untagged push. It fails t if the reference is invalid.
func MustRef(t testing.TB, repository, tag string) domain.ImageRef {
	t.Helper()
	return MustRefOf(t, Digest, repository, tag)
}

// MustRefOf is MustRef for another digest.
func MustRefOf(t testing.TB, d domain.Digest, repository, tag string) domain.ImageRef {
	t.Helper()
	ref, err := domain.NewImageRef(Account, Region, repository, string(d), tag)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// RandomDigest is a fresh, valid sha256 digest, for tests that share a store
// or a table and must not collide.
func RandomDigest(t testing.TB) domain.Digest {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	d, err := domain.ParseDigest("sha256:" + hex.EncodeToString(b[:]))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
